"""Read-only IMAP sessions on the sender's mailbox (DESIGN §6): EXAMINE and BODY.PEEK only,
so nothing is ever marked read, moved or deleted."""

from __future__ import annotations

import logging
import socket
import ssl

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from pecmass_xl.campaign.settings import Settings
from pecmass_xl.core.errors import CannotRun, LoginRefused
from pecmass_xl.core.italian import describe_error
from pecmass_xl.mailclient.tls import client_context

log = logging.getLogger("pecmass.imap")
NETWORK_ERRORS = (ConnectionError, socket.timeout, TimeoutError, ssl.SSLError, OSError, IMAPClientError)


SENT_NAMES = ("Sent", "Inviata", "Posta inviata", "INBOX.Sent", "INBOX.Inviata", "Sent Items", "Elementi inviati")


class ImapSession:
    def __init__(self, settings: Settings, password: str, timeout: float = 60.0):
        self.settings = settings
        self._password = password
        self.timeout = timeout
        self.client: IMAPClient | None = None
        self.folder: str | None = None
        self.uidvalidity: int | None = None

    def connect(self) -> ImapSession:
        s = self.settings
        if not s.imap_host or not s.imap_port:
            raise CannotRun("Server IMAP o porta non impostati: controllate il foglio Impostazioni.")
        context = client_context(s)
        try:
            if s.imap_security == "STARTTLS":
                client = IMAPClient(s.imap_host, port=s.imap_port, ssl=False, timeout=self.timeout)
                client.starttls(context)
            else:
                client = IMAPClient(s.imap_host, port=s.imap_port, ssl=True, ssl_context=context, timeout=self.timeout)
        except ssl.SSLCertVerificationError as exc:
            raise CannotRun(f"Il certificato del server {s.imap_host} non è valido ({exc.verify_message}).") from exc
        except NETWORK_ERRORS as exc:
            raise CannotRun(f"Non riesco a collegarmi al server IMAP {s.imap_host}:{s.imap_port} ({describe_error(exc)}).") from exc
        try:
            client.login(s.login, self._password)
        except LoginError as exc:
            _quiet_logout(client)
            raise LoginRefused(
                f"Il server {s.imap_host} ha rifiutato l'accesso IMAP di {s.login}. Mi fermo subito: "
                "tentativi ripetuti possono bloccare la casella. Controllate utente e password (pecmass login)."
            ) from exc
        self.client = client
        log.info("imap connected security=%s", s.imap_security)
        return self

    def examine(self, folder: str) -> dict:
        """Select read-only; returns the folder's status (UIDVALIDITY, UIDNEXT, EXISTS)."""
        assert self.client is not None
        try:
            info = self.client.select_folder(folder, readonly=True)
        except IMAPClientError as exc:
            raise CannotRun(f"La cartella IMAP «{folder}» non esiste o non è leggibile. Controllate «Cartelle ricevute».") from exc
        self.folder = folder
        self.uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        return info

    def sent_folder(self) -> str | None:
        """The provider's Sent folder: the one flagged `\\Sent`, else a usual name; None if none."""
        assert self.client is not None
        folders = self.client.list_folders()
        flagged = [name for flags, _sep, name in folders if b"\\Sent" in flags]
        names = {name.lower(): name for _flags, _sep, name in folders}
        return flagged[0] if flagged else next((names[n.lower()] for n in SENT_NAMES if n.lower() in names), None)

    def search_message_id(self, text: str) -> list[int]:
        """UIDs of the messages whose own Message-ID contains `text` (our copies in Sent)."""
        assert self.client is not None
        return list(self.client.search(["HEADER", "Message-ID", text]))

    def search_reference(self, message_id: str) -> list[int]:
        """UIDs of the messages that quote our Message-ID (receipts, and possibly envelopes)."""
        assert self.client is not None
        return list(self.client.search(["HEADER", "X-Riferimento-Message-ID", message_id]))

    def uids_from(self, first_uid: int) -> list[int]:
        assert self.client is not None
        return [uid for uid in self.client.search(["UID", f"{max(first_uid, 1)}:*"]) if uid >= first_uid]

    def fetch_headers(self, uids: list[int], names: tuple[str, ...]) -> dict[int, bytes]:
        assert self.client is not None
        if not uids:
            return {}
        key = f"BODY.PEEK[HEADER.FIELDS ({' '.join(names)})]"
        data = self.client.fetch(uids, [key])
        out: dict[int, bytes] = {}
        for uid, item in data.items():
            for field, value in item.items():
                if field.startswith(b"BODY[HEADER.FIELDS"):
                    out[uid] = value or b""
        return out

    def fetch_raw(self, uids: list[int]) -> dict[int, bytes]:
        assert self.client is not None
        if not uids:
            return {}
        data = self.client.fetch(uids, ["BODY.PEEK[]"])
        return {uid: item.get(b"BODY[]", b"") for uid, item in data.items()}

    def append(self, folder: str, data: bytes) -> None:
        """Used only for the optional copy in the provider's Sent folder."""
        assert self.client is not None
        self.client.append(folder, data, flags=(b"\\Seen",))

    def close(self) -> None:
        if self.client is not None:
            _quiet_logout(self.client)
            self.client = None

    def __enter__(self) -> ImapSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _quiet_logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - closing a session already broken
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001 - closing a session already broken
            pass
