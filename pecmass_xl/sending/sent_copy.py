"""Optional `Salva copia in Inviata`: an IMAP copy of each sent message in the provider's Sent folder.

Best effort by design: a failure here never touches the send itself (the archive already holds the
exact `.eml`); the user is told once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from pecmass_xl.campaign.settings import Settings
from pecmass_xl.core.errors import CannotRun, LoginRefused
from pecmass_xl.core.italian import describe_error

if TYPE_CHECKING:
    from pecmass_xl.mailclient.imap_session import ImapSession

log = logging.getLogger("pecmass.send")


class SentCopier:
    def __init__(self, settings: Settings, password: str, say: Callable[[str], None]):
        self.settings = settings
        self.password = password
        self.say = say
        self.session: ImapSession | None = None
        self.folder: str | None = None
        self.disabled = False

    def _open(self) -> bool:
        if self.session is not None:
            return True
        from pecmass_xl.mailclient.imap_session import NETWORK_ERRORS, ImapSession  # only when copies are wanted

        try:
            self.session = ImapSession(self.settings, self.password).connect()
            self.folder = self.session.sent_folder()
        except (CannotRun, LoginRefused, *NETWORK_ERRORS) as exc:
            self._give_up(f"Copia in Inviata non possibile ({describe_error(exc)}): l'invio continua, le copie sono nell'archivio.")
            return False
        if self.folder is None:
            self._give_up("Cartella Inviata non trovata sul server: nessuna copia salvata (le copie sono nell'archivio).")
            return False
        return True

    def _give_up(self, message: str) -> None:
        self.disabled = True
        self.say(message)
        self.close()

    def copy(self, data: bytes) -> bool:
        if self.disabled or not self._open():
            return False
        from pecmass_xl.mailclient.imap_session import NETWORK_ERRORS

        try:
            self.session.append(self.folder, data)
            return True
        except NETWORK_ERRORS as exc:
            log.warning("sent copy failed: %s", type(exc).__name__)
            self._give_up(f"Copia in Inviata interrotta ({describe_error(exc)}): l'invio continua.")
            return False

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
