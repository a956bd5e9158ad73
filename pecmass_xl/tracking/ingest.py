"""One message from the sender's mailbox → (maybe) one journal event and an archived `.eml`.

Only our own receipts count: matched by the Message-ID they quote (DESIGN §5.2), or, for an
anomaly envelope, by the ids quoted in its delivery-status report. Signatures are verified and
shown in `Firma`; how much an unverified message may do is decided by `journal.status` (issue 12).

A receipt is identified by what its provider signed (daticert: type, identifier, msgid, date,
recipient), never by its unsigned top-level Message-ID: a replay with a new Message-ID is the same
receipt and counts once. A receipt whose daticert has no `<msgid>` is tied to our message only by
unsigned headers, so it counts as unverified. Unverified messages get an identity made of their
exact bytes (each is kept; none can count as a verified one).
A message the parser cannot read goes to the quarantine (see `quarantine`), never to the bin.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.vocabulary import FIRMA_ASSENTE, FIRMA_NON_VERIFICATA, FIRMA_VERIFICATA
from pecmass_xl.journal import Journal, archive, proofs
from pecmass_xl.journal.status import EventKind
from pecmass_xl.receipts.content import carried_original, compare
from pecmass_xl.receipts.outcome import classify
from pecmass_xl.receipts.parse import (
    CATEGORY_ANOMALY,
    CATEGORY_RECEIPT,
    CATEGORY_UNREADABLE,
    ParsedMessage,
    normalize_message_id,
    parse_message,
)
from pecmass_xl.receipts.signature import SignatureVerifier
from pecmass_xl.tracking import quarantine

log = logging.getLogger("pecmass.receipts")

NO_SIGNED_MSGID = ("dati firmati incompleti (tipo, identificativo, msgid o data assenti): la ricevuta è collegata "
                   "al messaggio solo da intestazioni non firmate")
EVENT_QUARANTINED = "quarantena"


@dataclass(frozen=True)
class Ingested:
    message_id: str  # the attempt's Message-ID ("" when quarantined without a match)
    row_id: str | None
    event: str
    new: bool  # False when the receipt was already in the journal
    signature: str
    quarantined: bool = False


def _find_attempt(journal: Journal, pm: ParsedMessage):
    if pm.category == CATEGORY_RECEIPT and pm.ref_message_id:
        return journal.attempt_by_message_id(pm.ref_message_id)
    if pm.category == CATEGORY_ANOMALY and pm.dsn is not None:
        for quoted in sorted(pm.dsn.quoted_message_ids):
            attempt = journal.attempt_by_message_id(quoted) or journal.attempt_by_provider_id(quoted)
            if attempt is not None:
                return attempt
    return None


def has_signed_identity(pm: ParsedMessage) -> bool:
    """Whether the daticert names the receipt completely: type, identifier, our msgid, date."""
    dc = pm.daticert
    return bool(dc and dc.tipo and dc.identificativo and normalize_message_id(dc.msgid) and dc.event_time)


def receipt_identity(pm: ParsedMessage, raw: bytes, verified: bool) -> str:
    """The journal's identity of a receipt (see the module docstring)."""
    dc = pm.daticert
    if verified and dc is not None and has_signed_identity(pm):
        signed = "\x00".join([dc.tipo or "", dc.identificativo or "", normalize_message_id(dc.msgid) or "",
                              dc.event_time.isoformat() if dc.event_time else "", (dc.consegna or "").lower()])
        return "signed:" + hashlib.sha256(signed.encode("utf-8")).hexdigest()
    return "bytes:" + hashlib.sha256(raw).hexdigest()


def _quoted_reference(raw: bytes) -> str | None:
    """X-Riferimento-Message-ID read leniently, only to say which row an unreadable message concerns."""
    match = re.search(rb"(?im)^X-Riferimento-Message-ID:[ \t]*(<[^>\r\n]{1,500}>)", raw[:65536])
    return normalize_message_id(match.group(1).decode("ascii", "replace")) if match else None


def _quarantine(journal: Journal, raw: bytes, reason: str, archive_root: Path) -> Ingested:
    reference = _quoted_reference(raw)
    attempt = journal.attempt_by_message_id(reference) if reference else None
    row_id = attempt.row_id if attempt is not None else None
    try:
        quarantine.put(archive_root, raw, reason, row_id)
    except OSError as exc:
        raise _archive_error(archive_root, exc) from None
    return Ingested(attempt.message_id if attempt else "", row_id, EVENT_QUARANTINED, False, "", quarantined=True)


def _archive_error(archive_root: Path, exc: OSError) -> CannotRun:
    # Nothing is recorded without its proof: the batch is rolled back and read again next time.
    log.error("archive write failed: %s", type(exc).__name__)
    return CannotRun(f"Non riesco a salvare la ricevuta nell'archivio «{archive_root}» ({exc.strerror or exc}). "
                     "Controllate che la cartella esista e sia scrivibile, poi ripetete l'aggiornamento.")


def _signature(pm: ParsedMessage, raw: bytes, verifier: SignatureVerifier | None) -> tuple[str, dict]:
    """The `Firma` verdict and its facts (signer, signing time, reason: kept for the evidence page)."""
    if pm.category == CATEGORY_ANOMALY:
        # A bounce is not a certified notice: nothing to verify.
        return FIRMA_ASSENTE, {"motivo": "busta di anomalia: non firmata per natura"}
    if verifier is None:
        return FIRMA_NON_VERIFICATA, {"motivo": "nessuna verifica possibile"}
    checked = verifier.verify(raw, expected_from=pm.from_address, parsed=pm)
    facts = {"motivo": checked.reason, "firmatario": checked.signer_email,
             "data_firma": checked.signing_time.isoformat() if checked.signing_time else None}
    if not checked.verified:
        log.warning("receipt signature not verified: %s", checked.reason)
        # A certified receipt must be signed: without a signature it is unverified, not "absent".
        return FIRMA_NON_VERIFICATA, facts
    if not has_signed_identity(pm):
        log.warning("receipt signature valid but identity unsigned: %s", NO_SIGNED_MSGID)
        return FIRMA_NON_VERIFICATA, {**facts, "motivo": NO_SIGNED_MSGID}
    return FIRMA_VERIFICATA, {**facts, "catena": "valida fino a un'autorità di fiducia alla data della firma"}


def _prove_content(journal: Journal, attempt, raw: bytes, receipt_path: Path) -> None:
    """Compare the original carried by a verified `completa` delivery receipt with the sent `.eml`."""
    carried = carried_original(raw)
    if carried is None:
        return  # breve / sintetica: no original to compare
    sent_path = Path(attempt.eml_path) if attempt.eml_path else None
    try:
        sent = sent_path.read_bytes() if sent_path else None
    except OSError:
        sent = None
    if sent is None:
        proofs.save(journal, attempt.message_id, "non verificabile: copia inviata assente dall'archivio", [],
                    str(receipt_path))
        return
    proof = compare(carried, sent)
    if not proof.identical:
        log.warning("delivered content differs from the sent message: %s", proof.verdict)
    proofs.save(journal, attempt.message_id, proof.verdict, list(proof.attachments), str(receipt_path))


def ingest(journal: Journal, raw: bytes, verifier: SignatureVerifier | None, archive_root: Path,
           parsed: ParsedMessage | None = None) -> Ingested | None:
    """Record `raw` if it is one of this campaign's receipts; None otherwise (never raises on bad mail:
    what the parser cannot read is quarantined and reported)."""
    pm = parsed or parse_message(raw)
    if pm.category == CATEGORY_UNREADABLE:
        return _quarantine(journal, raw, pm.problems[0] if pm.problems else "messaggio illeggibile", archive_root)
    if pm.category not in (CATEGORY_RECEIPT, CATEGORY_ANOMALY):
        return None
    attempt = _find_attempt(journal, pm)
    if attempt is None:
        return None
    try:
        signature, facts = _signature(pm, raw, verifier)
        outcome = classify(pm)  # the final timeout notice is told apart by journal.status, from signed facts
    except Exception as exc:  # noqa: BLE001 - a receipt we trip on is quarantined, never dropped
        reason = f"ricevuta illeggibile ({type(exc).__name__}: {str(exc)[:200]})"
        log.warning("receipt could not be classified: %s", reason)
        return _quarantine(journal, raw, reason, archive_root)
    if outcome is None:
        return None
    identity = receipt_identity(pm, raw, signature == FIRMA_VERIFICATA)
    if journal.has_receipt_identity(identity):
        return Ingested(attempt.message_id, attempt.row_id, "", False, "")
    folder = archive_root / (attempt.row_id or f"prove/{attempt.label}")
    try:
        path, _digest = archive.store(folder, archive.receipt_name(outcome.event, outcome.event_time, identity), raw)
    except OSError as exc:
        raise _archive_error(archive_root, exc) from None
    provider_id = pm.daticert.identificativo if pm.daticert else None
    new = journal.add_event(
        attempt, outcome.event, event_time=outcome.event_time, esito=outcome.esito, detail=outcome.detail,
        receipt_message_id=pm.message_id or identity, provider_id=provider_id, signature=signature,
        recipient=outcome.recipient, archive_path=str(path), identity=identity,
    )
    if new:
        proofs.save_signature(journal, str(path), facts)
    if new and outcome.event == EventKind.AVVENUTA_CONSEGNA and signature == FIRMA_VERIFICATA:
        _prove_content(journal, attempt, raw, path)
    log.info("receipt recorded event=%s new=%s signature=%s", outcome.event, new, signature)
    return Ingested(attempt.message_id, attempt.row_id, outcome.event, new, signature)
