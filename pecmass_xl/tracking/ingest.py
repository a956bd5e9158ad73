"""One message from the sender's mailbox → (maybe) one journal event and an archived `.eml`.

Only our own receipts count: matched by the Message-ID they quote (DESIGN §5.2), or, for an
anomaly envelope, by the ids quoted in its delivery-status report. Signatures are verified and
shown in `Firma`; an unverified receipt still counts but is flagged (DESIGN §5.7).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.vocabulary import FIRMA_ASSENTE, FIRMA_NON_VERIFICATA
from pecmass_xl.journal import Journal, archive
from pecmass_xl.journal.status import EventKind
from pecmass_xl.receipts.outcome import classify
from pecmass_xl.receipts.parse import CATEGORY_ANOMALY, CATEGORY_RECEIPT, ParsedMessage, parse_message
from pecmass_xl.receipts.signature import SignatureVerifier

log = logging.getLogger("pecmass.receipts")


@dataclass(frozen=True)
class Ingested:
    message_id: str  # the attempt's Message-ID
    row_id: str | None
    event: str
    new: bool  # False when the receipt was already in the journal
    signature: str


def _find_attempt(journal: Journal, pm: ParsedMessage):
    if pm.category == CATEGORY_RECEIPT and pm.ref_message_id:
        return journal.attempt_by_message_id(pm.ref_message_id)
    if pm.category == CATEGORY_ANOMALY and pm.dsn is not None:
        for quoted in sorted(pm.dsn.quoted_message_ids):
            attempt = journal.attempt_by_message_id(quoted) or journal.attempt_by_provider_id(quoted)
            if attempt is not None:
                return attempt
    return None


def _timeout_context(journal: Journal, attempt) -> tuple[object, int]:
    events = journal.events(attempt)
    accepted = [e.event_time for e in events if e.kind in (EventKind.ACCETTAZIONE, EventKind.ACCETTAZIONE_ESTERNO)]
    notices = {e.receipt_message_id for e in events if e.kind in (EventKind.PREAVVISO, EventKind.PREAVVISO_FINALE)}
    return (min(accepted) if accepted else None), len(notices)


def ingest(journal: Journal, raw: bytes, verifier: SignatureVerifier | None, archive_root: Path,
           parsed: ParsedMessage | None = None) -> Ingested | None:
    """Record `raw` if it is one of this campaign's receipts; None otherwise (never raises on bad mail)."""
    pm = parsed or parse_message(raw)
    if pm.category not in (CATEGORY_RECEIPT, CATEGORY_ANOMALY):
        return None
    attempt = _find_attempt(journal, pm)
    if attempt is None:
        return None
    receipt_id = pm.message_id or f"<sha256.{hashlib.sha256(raw).hexdigest()}@pecmass.local>"
    if journal.has_receipt(receipt_id):
        return Ingested(attempt.message_id, attempt.row_id, "", False, "")
    acceptance, notices = None, 0
    if pm.receipt_type == "preavviso-errore-consegna":  # only timeout notices need the attempt's history
        acceptance, notices = _timeout_context(journal, attempt)
    outcome = classify(pm, acceptance_time=acceptance, previous_timeout_notices=notices)
    if outcome is None:
        return None
    if pm.category == CATEGORY_ANOMALY:
        signature = FIRMA_ASSENTE  # a bounce is not a certified notice: nothing to verify
    else:
        signature = FIRMA_NON_VERIFICATA
        if verifier is not None:
            checked = verifier.verify(raw, expected_from=pm.from_address, parsed=pm)
            # A certified receipt must be signed: without a signature it is unverified, not "absent".
            signature = FIRMA_NON_VERIFICATA if checked.status == FIRMA_ASSENTE else checked.status
            if not checked.verified:
                log.warning("receipt signature not verified: %s", checked.reason)
    folder_name = attempt.row_id or f"prove/{attempt.label}"
    folder = archive_root / folder_name
    try:
        path, _digest = archive.store(folder, archive.receipt_name(outcome.event, outcome.event_time, receipt_id), raw)
    except OSError as exc:
        # Nothing is recorded without its proof: the batch is rolled back and read again next time.
        # (`from None`: a disk problem is for the user to fix, not a dropped line to retry.)
        log.error("archive write failed: %s", type(exc).__name__)
        raise CannotRun(f"Non riesco a salvare la ricevuta nell'archivio «{archive_root}» ({exc.strerror or exc}). "
                        "Controllate che la cartella esista e sia scrivibile, poi ripetete l'aggiornamento.") from None
    provider_id = pm.daticert.identificativo if pm.daticert else None
    new = journal.add_event(
        attempt, outcome.event, event_time=outcome.event_time, esito=outcome.esito, detail=outcome.detail,
        receipt_message_id=receipt_id, provider_id=provider_id, signature=signature,
        recipient=outcome.recipient, archive_path=str(path),
    )
    log.info("receipt recorded event=%s new=%s signature=%s", outcome.event, new, signature)
    return Ingested(attempt.message_id, attempt.row_id, outcome.event, new, signature)
