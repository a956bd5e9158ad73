"""A parsed receipt → the event it records for its row and the `Esito` shown to the user.

Events (the journal's vocabulary, DESIGN §4): `accettazione`, `accettazione-esterno` (every
recipient is an ordinary address: no delivery receipt will come), `non-accettazione`,
`avvenuta-consegna`, `errore-consegna`, `preavviso` (the 12-hour warning), `preavviso-finale` (the
final timeout notice) and `anomalia` (an ordinary address bounced: a delivery-status report inside an
anomaly envelope). The provider's reason is kept verbatim in `detail`; `esito` maps it to the fixed
Italian vocabulary. Providers do not agree on `errore`: Aruba reports an unknown mailbox as `altro`
with `5.1.1 … indirizzo non valido` in `errore-esteso`, so the enhanced status code and the wording
are read too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pecmass_xl.core.vocabulary import (
    ESITO_ALTRO,
    ESITO_CASELLA_PIENA,
    ESITO_CONSEGNATA,
    ESITO_DOMINIO_INESISTENTE,
    ESITO_FORMATO,
    ESITO_INDIRIZZO_INESISTENTE,
    ESITO_NON_PEC,
    ESITO_TEMPO_SCADUTO,
    ESITO_TROPPO_GRANDE,
    ESITO_VIRUS,
)
from pecmass_xl.journal.status import FINAL_TIMEOUT_ERROR_PREFIX, EventKind
from pecmass_xl.receipts.parse import CATEGORY_ANOMALY, CATEGORY_RECEIPT, ParsedMessage

_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Wording of providers and mail servers (lower-case regular expressions, matched at a word start);
# checked in this order, after the codes.
_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (esito, re.compile(r"\b(?:" + "|".join(patterns) + ")"))
    for esito, patterns in (
        (ESITO_VIRUS, (r"virus", r"malware")),
        (ESITO_DOMINIO_INESISTENTE, (
            r"dominio (?:inesistente|non esistente|non valido|sconosciuto)", r"domain not found",
            r"no such domain", r"unknown domain", r"host not found", r"domain does not exist", r"no-dominio",
        )),
        (ESITO_CASELLA_PIENA, (
            r"casella (?:di posta )?piena", r"quota", r"over ?quota", r"mailbox (?:is )?full",
            r"spazio insufficiente", r"insufficient storage",
        )),
        (ESITO_INDIRIZZO_INESISTENTE, (
            r"indirizzo (?:non valido|inesistente)", r"utente inesistente", r"casella inesistente",
            r"destinatario inesistente", r"user unknown", r"unknown user", r"no such user",
            r"invalid (?:address|recipient)", r"recipient address rejected", r"mailbox not found",
            r"does not exist", r"no-dest",
        )),
        (ESITO_TROPPO_GRANDE, (
            r"troppo grand", r"dimension[ei]\b", r"size\b", r"too (?:large|big)",
        )),
        (ESITO_TEMPO_SCADUTO, (
            r"tempo massimo", r"tempi massimi", r"time ?out", r"scadut", r"expired",
        )),
        (ESITO_FORMATO, (
            r"bcc\b", r"ccn\b", r"copia nascosta", r"formato", r"format\b", r"formal", r"sintassi",
            r"syntax", r"intestazion", r"header",
        )),
    )
)

# Enhanced status codes (RFC 3463) with one clear meaning.
_CODES = {
    "5.1.1": ESITO_INDIRIZZO_INESISTENTE,
    "5.1.3": ESITO_INDIRIZZO_INESISTENTE,
    "5.1.6": ESITO_INDIRIZZO_INESISTENTE,
    "5.1.2": ESITO_DOMINIO_INESISTENTE,
    "5.1.10": ESITO_DOMINIO_INESISTENTE,
    "5.4.4": ESITO_DOMINIO_INESISTENTE,
    "5.2.2": ESITO_CASELLA_PIENA,
    "4.2.2": ESITO_CASELLA_PIENA,
    "5.2.3": ESITO_TROPPO_GRANDE,
    "5.3.4": ESITO_TROPPO_GRANDE,
    "5.4.7": ESITO_TEMPO_SCADUTO,
    "4.4.7": ESITO_TEMPO_SCADUTO,
}


@dataclass(frozen=True, slots=True)
class ReceiptOutcome:
    """One journal event for one row: what happened, when, to whom and why."""

    event: str
    esito: str | None           # Esito vocabulary; None for events that are not an outcome yet
    detail: str | None          # provider's words verbatim (control characters stripped)
    event_time: datetime | None  # aware UTC: daticert time with its zona, else the Date header
    recipient: str | None        # lower-case address the event is about, when known

    @property
    def final(self) -> bool:
        """Whether the event ends the row's story (DESIGN §4 "Final" column)."""
        return self.event not in (EventKind.ACCETTAZIONE, EventKind.PREAVVISO)


def clean_text(text: str | None) -> str | None:
    """Provider text made safe for a cell: line breaks and tabs become spaces, control chars go."""
    if text is None:
        return None
    text = re.sub(r"[\r\n\t]+", " ", str(text))
    text = _CONTROL.sub("", text).strip()
    return text or None


def status_code(text: str | None) -> str | None:
    """The first enhanced status code (`5.1.1`) in a text, if any."""
    match = _STATUS.search(text or "")
    return ".".join(match.groups()) if match else None


def esito_from_text(text: str | None, default: str = ESITO_ALTRO) -> str:
    """Esito from a provider's or server's words: the status code first, then the wording."""
    code = status_code(text)
    if code in _CODES:
        return _CODES[code]
    lowered = (text or "").lower()
    for esito, pattern in _WORDS:
        if pattern.search(lowered):
            return esito
    return default


def _esito_for_failure(errore: str | None, errore_esteso: str | None, virus_flag: bool) -> str:
    """Esito of an errore-consegna / non-accettazione from daticert `errore` and `errore-esteso`."""
    if virus_flag or errore == "virus":
        return ESITO_VIRUS
    if errore == "no-dest":
        return ESITO_INDIRIZZO_INESISTENTE
    if errore == "no-dominio":
        return ESITO_DOMINIO_INESISTENTE
    return esito_from_text(errore_esteso)


def _single_recipient(pm: ParsedMessage) -> str | None:
    dc = pm.daticert
    if dc is None:
        return None
    if dc.consegna:
        return dc.consegna.strip().lower()
    if len(dc.destinatari) == 1:
        return dc.destinatari[0][0].strip().lower()
    return None


def classify(pm: ParsedMessage) -> ReceiptOutcome | None:
    """The event a message records, or None when it records nothing for the sender's rows.

    None for transport envelopes, provider-to-provider notices (`presa-in-carico`,
    `rilevazione-virus`), unknown types, anomaly envelopes without a permanent bounce, and other mail.
    A timeout notice is `preavviso-finale` here only when its own words start with `5.4.1`; whether
    another one is the final notice (a second distinct verified notice, or one signed ≥ 22 h after
    the verified acceptance) is decided by `journal.status` from the attempt's signed history.
    """
    if pm.category == CATEGORY_ANOMALY:
        return _classify_bounce(pm)
    if pm.category != CATEGORY_RECEIPT:
        return None

    dc = pm.daticert
    event_time = (dc.event_time if dc else None) or pm.date
    errore = dc.errore if dc else None
    errore_esteso = dc.errore_esteso if dc else None
    detail = clean_text(errore_esteso)
    virus_flag = pm.verifica_sicurezza == "errore"
    recipient = _single_recipient(pm)

    kind = pm.receipt_type
    if kind == "accettazione":
        destinatari = dc.destinatari if dc else ()
        if destinatari and all(tipo == "esterno" for _, tipo in destinatari):
            return ReceiptOutcome(EventKind.ACCETTAZIONE_ESTERNO, ESITO_NON_PEC, detail, event_time, recipient)
        return ReceiptOutcome(EventKind.ACCETTAZIONE, None, detail, event_time, recipient)
    if kind == "avvenuta-consegna":
        return ReceiptOutcome(EventKind.AVVENUTA_CONSEGNA, ESITO_CONSEGNATA, detail, event_time, recipient)
    if kind == "errore-consegna":
        esito = _esito_for_failure(errore, errore_esteso, virus_flag)
        return ReceiptOutcome(EventKind.ERRORE_CONSEGNA, esito, detail, event_time, recipient)
    if kind == "non-accettazione":
        esito = _esito_for_failure(errore, errore_esteso, virus_flag)
        return ReceiptOutcome(EventKind.NON_ACCETTAZIONE, esito, detail, event_time, None)
    if kind == "preavviso-errore-consegna":
        if (errore_esteso or "").strip().startswith(FINAL_TIMEOUT_ERROR_PREFIX):
            return ReceiptOutcome(EventKind.PREAVVISO_FINALE, ESITO_TEMPO_SCADUTO, detail, event_time, recipient)
        return ReceiptOutcome(EventKind.PREAVVISO, None, detail, event_time, recipient)
    return None  # presa-in-carico, rilevazione-virus: provider-to-provider, never user outcomes


def _classify_bounce(pm: ParsedMessage) -> ReceiptOutcome | None:
    dsn = pm.dsn
    if dsn is None or not dsn.is_failure:
        return None
    if dsn.status in _CODES:
        esito = _CODES[dsn.status]
    else:
        esito = esito_from_text(" ".join(t for t in (dsn.status, dsn.diagnostic) if t))
    return ReceiptOutcome(
        EventKind.ANOMALIA,
        esito,
        clean_text(dsn.diagnostic or dsn.status),
        pm.date,
        dsn.final_recipient,
    )
