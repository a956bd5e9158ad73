"""Reading the sender's mailbox for receipts (issue 5): read-only, incremental, headers first.

Per folder the journal keeps (UIDVALIDITY, last UID): a run with nothing new asks the server for
one EXAMINE and stops. Only messages quoting one of this campaign's Message-IDs, and anomaly
envelopes (which may hide a bounce), are downloaded whole. A dropped connection loses nothing:
the cursor only moves after the receipts before it are in the journal, and receipts are
deduplicated by what their provider signed (see `ingest`). Messages the parser cannot read are
quarantined in the archive and read again at the start of every sync (issue 12).
"""

from __future__ import annotations

import imaplib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from pecmass_xl.campaign.settings import Settings
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.italian import describe_error
from pecmass_xl.journal import Journal
from pecmass_xl.mailclient.imap_session import NETWORK_ERRORS, ImapSession
from pecmass_xl.receipts.parse import normalize_message_id
from pecmass_xl.tracking import quarantine
from pecmass_xl.tracking.ingest import ingest
from pecmass_xl.tracking.trust import verifier_for

log = logging.getLogger("pecmass.receipts")
HEADER_NAMES = ("X-Riferimento-Message-ID", "X-Ricevuta", "X-Trasporto", "Message-ID")
BATCH = 500
_parser = BytesHeaderParser(policy=policy.compat32)


@dataclass
class SyncResult:
    scanned: int = 0
    downloaded: int = 0
    recorded: int = 0
    duplicates: int = 0
    quarantined: int = 0  # messages put in quarantine by this run
    recovered: int = 0  # quarantined messages read successfully this run
    unreadable: int = 0  # messages waiting in quarantine after this run ("ricevute illeggibili")
    folders: dict[str, int] = field(default_factory=dict)  # folder -> messages scanned
    reset_folders: list[str] = field(default_factory=list)  # UIDVALIDITY changed: read again
    error: str | None = None  # the line dropped mid-sync (Italian); what was read before is kept

    def add(self, other: SyncResult) -> None:
        """Fold one round of a `--follow` into the running total."""
        self.scanned += other.scanned
        self.downloaded += other.downloaded
        self.recorded += other.recorded
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.recovered += other.recovered
        self.unreadable = other.unreadable
        for folder, count in other.folders.items():
            self.folders[folder] = self.folders.get(folder, 0) + count
        self.reset_folders += [f for f in other.reset_folders if f not in self.reset_folders]
        self.error = other.error


def _wanted(headers: bytes, ours: set[str], settled: set[str]) -> bool:
    """Worth downloading: an anomaly envelope, or a receipt quoting one of our Message-IDs, unless
    a verified receipt (or bounce) with its Message-ID is already recorded (`settled`)."""
    msg = _parser.parsebytes(headers)
    transport = (msg.get("X-Trasporto") or "").strip().lower()
    own_id = normalize_message_id(msg.get("Message-ID"))
    if transport == "errore":
        return not (own_id and own_id in settled)
    if transport:
        return False  # transport envelopes are never receipts (DESIGN §5.7)
    reference = normalize_message_id(msg.get("X-Riferimento-Message-ID"))
    if not reference or reference not in ours:
        return False
    return not (own_id and own_id in settled)


def _count(result: SyncResult, recorded) -> None:
    if recorded is None:
        return
    if recorded.quarantined:
        result.quarantined += 1
    elif recorded.new:
        result.recorded += 1
    else:
        result.duplicates += 1


def retry_quarantine(journal: Journal, settings: Settings, archive_root: Path, result: SyncResult) -> None:
    """Read the quarantined messages again (an upgraded parser recovers them); those read leave it."""
    items = quarantine.pending(archive_root)
    if not items:
        return
    verifier = verifier_for(settings)
    for item in items:
        try:
            raw = item.path.read_bytes()
        except OSError as exc:
            log.warning("quarantined message unreadable on disk: %s", type(exc).__name__)
            continue
        with journal.batch():
            recorded = ingest(journal, raw, verifier, archive_root)
        if recorded is not None and recorded.quarantined:
            continue  # still unreadable: it stays (its reason was refreshed)
        if recorded is not None:
            result.recorded += 1 if recorded.new else 0
        result.recovered += 1
        quarantine.release(item)


def sync_folder(session: ImapSession, journal: Journal, folder: str, settings: Settings, archive_root: Path,
                result: SyncResult, should_stop: Callable[[], bool] | None = None) -> None:
    info = session.examine(folder)
    uidvalidity = int(info.get(b"UIDVALIDITY", 0))
    uidnext = int(info.get(b"UIDNEXT", 0) or 0)
    state = journal.sync_state(folder)
    start = 1
    if state is not None:
        if state.uidvalidity == uidvalidity:
            start = state.last_uid + 1
        else:
            result.reset_folders.append(folder)  # the server renumbered: read it all again (dedup keeps it safe)
    if uidnext and start >= uidnext:
        journal.set_sync_state(folder, uidvalidity, start - 1)
        result.folders[folder] = 0
        return
    uids = sorted(session.uids_from(start))
    ours = journal.message_ids()
    verifier = verifier_for(settings)
    scanned = 0
    for index in range(0, len(uids), BATCH):
        if should_stop and should_stop():
            break
        batch = uids[index:index + BATCH]
        headers = session.fetch_headers(batch, HEADER_NAMES)
        settled = journal.settled_receipt_message_ids()
        wanted = [uid for uid in batch if _wanted(headers.get(uid, b""), ours, settled)]
        raws = session.fetch_raw(wanted)
        with journal.batch():
            for uid in sorted(raws):
                result.downloaded += 1
                _count(result, ingest(journal, raws[uid], verifier, archive_root))
            journal.set_sync_state(folder, uidvalidity, batch[-1])
        scanned += len(batch)
        result.scanned += len(batch)
        result.folders[folder] = scanned
    result.folders[folder] = scanned


# A line that dropped (imaplib's `abort`, socket and TLS errors), unlike a server's NO/BAD answer.
_DROPPED_LINE = (imaplib.IMAP4.abort, OSError, EOFError)


def is_transient(exc: BaseException | None) -> bool:
    """A dropped or refused connection (worth trying again later), not a setting to fix."""
    while exc is not None:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return False
        if isinstance(exc, _DROPPED_LINE):
            return True
        exc = exc.__cause__
    return False


DROPPED = ("Lettura delle ricevute interrotta: la connessione con il server IMAP si è chiusa ({reason}). "
           "Le ricevute lette finora sono salvate; la prossima lettura riprende da lì.")


def sync_receipts(journal: Journal, settings: Settings, password: str, archive_root: Path,
                  should_stop: Callable[[], bool] | None = None) -> SyncResult:
    """Read every receipts folder once. A connection dropped mid-way ends the run with `error` set;
    the folder cursors only moved past what is in the journal, so nothing is lost or doubled."""
    result = SyncResult()
    retry_quarantine(journal, settings, archive_root, result)
    with ImapSession(settings, password).connect() as session:
        try:
            for folder in settings.receipt_folders:
                sync_folder(session, journal, folder, settings, archive_root, result, should_stop)
        except (CannotRun, *NETWORK_ERRORS) as exc:
            if not is_transient(exc):
                raise
            log.warning("sync interrupted: %s", type(exc).__name__)
            result.error = DROPPED.format(reason=describe_error(exc))
    result.unreadable = len(quarantine.pending(archive_root))
    log.info("sync scanned=%d downloaded=%d recorded=%d", result.scanned, result.downloaded, result.recorded)
    return result
