"""Where the mailbox password comes from (DESIGN §5.6): never the workbook, files or logs.

Order: the `Sandbox` preset's own password (no secret, from the sandbox folder); `PECMASS_PASSWORD`
(for automation); the OS keyring, under the service `pecmass` and the key `login@server`.
"""

from __future__ import annotations

import os

from pecmass_xl.campaign.settings import Settings
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.italian import describe_error

KEYRING_SERVICE = "pecmass"
NO_KEYRING_HINT = (
    "Nessun portachiavi di sistema disponibile per conservare la password. Impostate la variabile "
    "d'ambiente PECMASS_PASSWORD (per l'automazione), oppure installate un portachiavi (es. keyrings.alt)."
)


def keyring_key(settings: Settings) -> str:
    return f"{settings.login}@{settings.smtp_host or settings.provider}"


def _keyring():
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or type(backend).__name__ == "ChainerBackend" and not getattr(backend, "backends", True):
        raise CannotRun(NO_KEYRING_HINT)
    return keyring


def get_password(settings: Settings) -> str:
    if settings.is_sandbox and settings.sandbox_password:
        return settings.sandbox_password
    env = os.environ.get("PECMASS_PASSWORD")
    if env:
        return env
    try:
        password = _keyring().get_password(KEYRING_SERVICE, keyring_key(settings))
    except CannotRun:
        raise
    except Exception as exc:  # keyring backends raise their own types
        raise CannotRun(f"{NO_KEYRING_HINT} ({describe_error(exc)})") from exc
    if not password:
        raise CannotRun(
            f"Nessuna password salvata per {settings.login}: eseguite «pecmass login CARTELLA.xlsx» "
            "(o il pulsante Password in Excel), oppure impostate PECMASS_PASSWORD."
        )
    return password


def store_password(settings: Settings, password: str) -> None:
    try:
        _keyring().set_password(KEYRING_SERVICE, keyring_key(settings), password)
    except CannotRun:
        raise
    except Exception as exc:
        raise CannotRun(f"{NO_KEYRING_HINT} ({describe_error(exc)})") from exc
