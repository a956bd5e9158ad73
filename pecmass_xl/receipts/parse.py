"""Raw message bytes → `ParsedMessage`: what kind of PEC message it is and what it certifies.

Classification trusts only the top-level PEC headers and `daticert.xml` (DESIGN §5.7):
- `X-Trasporto: posta-certificata` → transport envelope: never a receipt, even though it quotes our
  Message-ID in `X-Riferimento-Message-ID`;
- `X-Trasporto: errore` → anomaly envelope, opened only to find a bounce (see `dsn.py`);
- `X-Ricevuta: <type>` → receipt;
- anything else → other. Subject text is never used to classify.
A message the parser trips on is `unreadable` (never "other"): it is logged with the reason, and
the sync quarantines it and reads it again on the next run (issue 12: no receipt lost in silence).
`daticert.xml` is searched in the message's own MIME tree, never inside attached messages
(`postacert.eml` may itself carry the daticert of another PEC). `parse_message` never raises:
what looked odd goes to `problems` (short Italian sentences for the anomaly list).
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.utils
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pecmass_xl.receipts.daticert import Daticert, parse_daticert
from pecmass_xl.receipts.dsn import DsnInfo, find_dsn
from pecmass_xl.receipts.rawmime import Headers, iter_leaves, parse_headers, split_head_body

RECEIPT_TYPES = frozenset({
    "accettazione",
    "non-accettazione",
    "avvenuta-consegna",
    "errore-consegna",
    "preavviso-errore-consegna",
    "presa-in-carico",
    "rilevazione-virus",
})

CATEGORY_RECEIPT = "receipt"
CATEGORY_TRANSPORT = "transport-envelope"
CATEGORY_ANOMALY = "anomaly-envelope"
CATEGORY_OTHER = "other"
CATEGORY_UNREADABLE = "unreadable"

log = logging.getLogger("pecmass.receipts")


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """A message from the sender's mailbox, read as PEC."""

    category: str                    # receipt | transport-envelope | anomaly-envelope | other | unreadable
    receipt_type: str | None         # X-Ricevuta, lower-case (may be an unknown value: category "other")
    transport: str | None            # X-Trasporto, lower-case
    ref_message_id: str | None       # X-Riferimento-Message-ID, else daticert msgid, "<...>" form
    message_id: str | None           # the message's own Message-ID, "<...>" form (dedup key)
    from_address: str | None         # lower-case address of From
    subject: str | None              # decoded
    date: datetime | None            # Date header, aware UTC
    verifica_sicurezza: str | None   # X-VerificaSicurezza, lower-case ("errore" on virus notices)
    tipo_ricevuta: str | None        # X-TipoRicevuta, lower-case
    daticert: Daticert | None
    dsn: DsnInfo | None              # anomaly envelopes only
    problems: tuple[str, ...] = field(default=())


def normalize_message_id(value: str | None) -> str | None:
    """A Message-ID in `<local@domain>` form (daticert `identificativo` has no brackets); None if empty."""
    if value is None:
        return None
    value = re.sub(r"\s+", "", str(value))
    match = re.search(r"<([^<>]+)>", value)
    core = match.group(1) if match else value.strip("<>")
    return f"<{core}>" if core else None


def _decode_header(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value)
    try:
        decoded = str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        decoded = value
    decoded = re.sub(r"\r?\n[ \t]*", " ", decoded)
    return decoded.encode("utf-8", "replace").decode("utf-8").strip() or None


def _single(headers: Headers, name: str, problems: list[str]) -> str | None:
    """One header value, lower-cased; conflicting repeated values are a problem and give None."""
    values = [v.strip().lower() for v in headers.get_all(name) if v.strip()]
    distinct = sorted(set(values))
    if len(distinct) > 1:
        problems.append(f"intestazione {name} ripetuta con valori diversi")
        return None
    return distinct[0] if distinct else None


def _address(value: str | None) -> str | None:
    if not value:
        return None
    _, addr = email.utils.parseaddr(str(value))
    return addr.strip().lower() or None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def read_daticert(entity: bytes, defects: list[str] | None = None) -> tuple[Daticert | None, list[str]]:
    """The daticert of a MIME entity's own tree (not inside attached messages), with problems."""
    parts = [
        leaf for leaf in iter_leaves(entity, defects)
        if b"daticert" in leaf.head.lower() and (leaf.filename() or "").strip().lower() == "daticert.xml"
    ]
    if not parts:
        return None, ["daticert.xml assente"]
    problems = ["più di un daticert.xml"] if len(parts) > 1 else []
    payload = parts[0].decoded()
    if not payload.strip():
        return None, problems + ["daticert.xml vuoto"]
    daticert, more = parse_daticert(payload)
    return daticert, problems + more


def parse_message(raw: bytes) -> ParsedMessage:
    """Read raw RFC 822 bytes as PEC. Never raises: a parser failure gives category `unreadable`
    with the reason in `problems` (and a log line), never a silent "other"."""
    try:
        return _parse(raw)
    except Exception as exc:  # noqa: BLE001 - hostile input must never stop a sync; logged and quarantined
        reason = f"messaggio illeggibile ({type(exc).__name__}: {str(exc)[:200]})"
        log.warning("receipt parser failed: %s", reason)
        return unreadable(reason)


def unreadable(reason: str) -> ParsedMessage:
    """The result for a message the parser could not read; `reason` in Italian."""
    return ParsedMessage(
        category=CATEGORY_UNREADABLE, receipt_type=None, transport=None, ref_message_id=None,
        message_id=None, from_address=None, subject=None, date=None, verifica_sicurezza=None,
        tipo_ricevuta=None, daticert=None, dsn=None, problems=(reason,),
    )


def _parse(raw: bytes) -> ParsedMessage:
    problems: list[str] = []
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError("raw must be bytes")
    raw = bytes(raw)
    head, _ = split_head_body(raw)
    headers = parse_headers(head)

    receipt_type = _single(headers, "X-Ricevuta", problems)
    transport = _single(headers, "X-Trasporto", problems)
    ref_values = headers.get_all("X-Riferimento-Message-ID")
    ref_header = normalize_message_id(ref_values[0]) if ref_values else None
    if len({normalize_message_id(v) for v in ref_values}) > 1:
        problems.append("intestazione X-Riferimento-Message-ID ripetuta con valori diversi")
        ref_header = None

    if transport is not None:
        category = CATEGORY_ANOMALY if transport == "errore" else CATEGORY_TRANSPORT
        if transport not in ("errore", "posta-certificata"):
            category = CATEGORY_OTHER
            problems.append("valore X-Trasporto sconosciuto")
        if receipt_type is not None:
            problems.append("busta con intestazione X-Ricevuta: non è una ricevuta")
    elif receipt_type is not None:
        category = CATEGORY_RECEIPT if receipt_type in RECEIPT_TYPES else CATEGORY_OTHER
        if category == CATEGORY_OTHER:
            problems.append("valore X-Ricevuta sconosciuto")
    else:
        category = CATEGORY_OTHER

    daticert: Daticert | None = None
    dsn: DsnInfo | None = None
    if category in (CATEGORY_RECEIPT, CATEGORY_TRANSPORT):
        defects: list[str] = []
        daticert, more = read_daticert(raw, defects)
        if defects:
            problems.append("struttura MIME irregolare")
        problems.extend(more)
        if daticert is not None and daticert.tipo:
            expected = receipt_type if category == CATEGORY_RECEIPT else "posta-certificata"
            if daticert.tipo != expected:
                problems.append("tipo di daticert.xml diverso dall'intestazione")
    elif category == CATEGORY_ANOMALY:
        dsn, more = find_dsn(email.message_from_bytes(raw))
        problems.extend(more)

    ref_message_id = ref_header
    daticert_msgid = normalize_message_id(daticert.msgid) if daticert else None
    if ref_message_id is None:
        ref_message_id = daticert_msgid
    elif daticert_msgid is not None and daticert_msgid != ref_message_id:
        problems.append("Message-ID di riferimento diverso da quello di daticert.xml")

    return ParsedMessage(
        category=category,
        receipt_type=receipt_type,
        transport=transport,
        ref_message_id=ref_message_id,
        message_id=normalize_message_id(headers.get("Message-ID")),
        from_address=_address(headers.get("From")),
        subject=_decode_header(headers.get("Subject")),
        date=_date(headers.get("Date")),
        verifica_sicurezza=_single(headers, "X-VerificaSicurezza", problems),
        tipo_ricevuta=_single(headers, "X-TipoRicevuta", problems),
        daticert=daticert,
        dsn=dsn,
        problems=tuple(problems),
    )
