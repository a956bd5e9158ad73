"""Where the mailbox password comes from (DESIGN §5.6): never the workbook, files or logs.

Order: the `Sandbox` preset's own password (no secret, from the sandbox folder); `PECMASS_PASSWORD`
(for automation); the OS keyring, under the service `pecmass` and the key `login@server`.

Which keyring holds the password is always said. A backend that keeps it in a plain file (such as
keyrings.alt's, which stores it base64-encoded: readable by anyone who can read the user's files)
is refused unless the user opts in (`PECMASS_ALLOW_PLAINTEXT_KEYRING=1`, or `login --allow-plaintext-keyring`),
and is never called "di sistema".
"""

from __future__ import annotations

import os

from pecmass_xl.campaign.settings import Settings
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.italian import describe_error

KEYRING_SERVICE = "pecmass"
PLAINTEXT_OPT_IN = "PECMASS_ALLOW_PLAINTEXT_KEYRING"
NO_KEYRING_HINT = (
    "Nessun portachiavi di sistema disponibile per conservare la password. Impostate la variabile "
    "d'ambiente PECMASS_PASSWORD (per l'automazione), oppure attivate il portachiavi del sistema "
    "(Gestione credenziali di Windows, Portachiavi di macOS, GNOME Keyring o KWallet su Linux). "
    "Il pacchetto keyrings.alt NON è un portachiavi di sistema: salva la password in un file in chiaro "
    f"(solo codificata in base64); pecmass lo usa solo se lo chiedete con {PLAINTEXT_OPT_IN}=1."
)

# Backends of the operating system, by module and class: the only ones called "di sistema".
_SYSTEM_BACKENDS = {
    "keyring.backends.Windows.WinVaultKeyring": "Gestione credenziali di Windows",
    "keyring.backends.macOS.Keyring": "Portachiavi di macOS",
    "keyring.backends.SecretService.Keyring": "Secret Service (GNOME Keyring o KWallet)",
    "keyring.backends.libsecret.Keyring": "libsecret (GNOME Keyring)",
    "keyring.backends.kwallet.DBusKeyring": "KWallet",
}


def plaintext_allowed() -> bool:
    return os.environ.get(PLAINTEXT_OPT_IN, "").strip().lower() in ("1", "sì", "si", "yes", "true")


def _effective_backend(backend):
    """The backend that stores a new password (a chainer stores in its first backend)."""
    chained = getattr(backend, "backends", None)
    return chained[0] if chained else backend


def describe_backend(backend) -> tuple[str, bool]:
    """(where the password is kept, in Italian, for the messages; True for a plain file)."""
    backend = _effective_backend(backend)
    key = f"{type(backend).__module__}.{type(backend).__name__}"
    if key in _SYSTEM_BACKENDS:
        return f"nel portachiavi di sistema ({_SYSTEM_BACKENDS[key]})", False
    file_path = getattr(backend, "file_path", None)
    where = f" {file_path}" if file_path else ""
    if "plaintext" in type(backend).__name__.lower():
        return f"in un file NON cifrato di {type(backend).__module__.split('.')[0]} ({where.strip() or 'file locale'}): leggibile da chi può leggere i vostri file", True
    if file_path:
        return f"nel file cifrato di {type(backend).__module__.split('.')[0]} ({file_path}), non nel portachiavi di sistema", False
    return f"nel portachiavi «{key}» (non riconosciuto come portachiavi di sistema)", False


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


def store_password(settings: Settings, password: str, allow_plaintext: bool = False) -> str:
    """Store the password; returns where it went (Italian, e.g. «nel portachiavi di sistema (…)»)."""
    keyring = _keyring()
    where, plaintext = describe_backend(keyring.get_keyring())
    if plaintext and not (allow_plaintext or plaintext_allowed()):
        raise CannotRun(
            f"Il solo portachiavi disponibile salverebbe la password {where}. Non la salvo: attivate il "
            "portachiavi del sistema, oppure usate PECMASS_PASSWORD, oppure, se accettate il file in chiaro, "
            f"ripetete con {PLAINTEXT_OPT_IN}=1 (o «pecmass login --allow-plaintext-keyring»)."
        )
    try:
        keyring.set_password(KEYRING_SERVICE, keyring_key(settings), password)
    except CannotRun:
        raise
    except Exception as exc:  # keyring backends raise their own types; said in Italian
        raise CannotRun(f"{NO_KEYRING_HINT} ({describe_error(exc)})") from exc
    return where
