"""Row status derived from journal events (DESIGN §4): pure functions, no I/O.

A row shows its latest attempt; within an attempt the strongest event wins whatever the arrival
order, and a receipt seen twice counts once. The precedence, strongest first:

    Consegnato > Mancata consegna > Non accettato > Accettato (non PEC) > Ritardo > Accettato
    > Inviato > Rifiutato > Incerto > Da inviare (retries outlasted) > In invio

Where DESIGN §4 leaves the order open, the safe choice is taken:
- `Rifiutato` ranks below `Inviato` and every receipt: a receipt is evidence the message left, and
  a wrongly recorded refusal must never make a delivered PEC look like a failure to resend.
- `Da inviare` (temporary errors outlasted the retries) ranks just above `In invio`: anything that
  proves a hand-over beats it.
- A timeout notice (`preavviso`, `preavviso-finale`) is the 12-hour `Ritardo` unless it is the
  final one, told only from certified data (issue 12), never from the local clock: a notice whose
  `errore-esteso` starts with `5.4.1`, a second *verified* notice distinct by its signed
  date/identifier, or a notice dated ≥ 22 h after the (verified) acceptance. Those are
  `Mancata consegna`, `Esito` = Tempo scaduto; an unverified one only under the trust order below.

Trust order (issue 12, README "Which receipt wins"): a final outcome from a verified receipt is
never replaced by an unverified message; unverified receipts compete only while the row has no
verified final outcome (then `Firma` = non verificata), and are otherwise listed as `overruled`.
Bounces (anomaly envelopes, always unsigned) may end only an `Accettato (non PEC)` row; on any
other row they are listed in `ignored_bounces`, never a state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import NamedTuple

from pecmass_xl.core.italian import plural
from pecmass_xl.core.vocabulary import (
    ESITI,
    ESITO_ALTRO,
    ESITO_CONSEGNATA,
    ESITO_INCERTO,
    ESITO_NON_PEC,
    ESITO_RIFIUTATO,
    ESITO_TEMPO_SCADUTO,
    ESITO_TEMPORANEO,
    FIRMA_ASSENTE,
    FIRMA_NON_VERIFICATA,
    ST_ACCEPTED,
    ST_ACCEPTED_EXTERNAL,
    ST_DELAYED,
    ST_DELIVERED,
    ST_NOT_ACCEPTED,
    ST_NOT_DELIVERED,
    ST_REFUSED,
    ST_SENDING,
    ST_SENT,
    ST_TO_SEND,
    ST_UNCERTAIN,
)

FINAL_STATUSES = frozenset({ST_DELIVERED, ST_ACCEPTED_EXTERNAL, ST_NOT_DELIVERED, ST_NOT_ACCEPTED, ST_REFUSED})
"""No further receipt is expected (an `Accettato (non PEC)` row may still bounce: see issue 5)."""
FAILED_STATUSES = frozenset({ST_REFUSED, ST_NOT_ACCEPTED, ST_NOT_DELIVERED})
"""`--resend failed`."""
UNCERTAIN_STATUSES = frozenset({ST_UNCERTAIN})
"""`--resend uncertain`."""
HANDED_OVER_STATUSES = frozenset({
    ST_SENT, ST_ACCEPTED, ST_DELIVERED, ST_ACCEPTED_EXTERNAL, ST_DELAYED, ST_NOT_DELIVERED, ST_NOT_ACCEPTED,
    ST_UNCERTAIN,
})
"""The message left (or may have left): `--resend sent` is a deliberate second PEC."""

# --- Event kinds (strings shared with the SMTP sender and the receipt parser) --------------------
class EventKind:
    IN_INVIO = "in-invio"                # attempt committed, about to be handed to SMTP
    SMTP_INVIATO = "smtp-inviato"        # 250 after DATA
    SMTP_RIFIUTATO = "smtp-rifiutato"    # permanent 5xx (not a rate limit)
    SMTP_TEMPORANEO = "smtp-temporaneo"  # 4xx / network error before the end of DATA, retrying
    SMTP_ESAURITO = "smtp-esaurito"      # ended without hand-over: retries outlasted (with retry_count), or a stop
    SMTP_IN_DUBBIO = "smtp-in-dubbio"    # connection lost after the end of DATA
    INCERTO = "incerto"                  # in-doubt wait expired without an acceptance
    ACCETTAZIONE = "accettazione"
    ACCETTAZIONE_ESTERNO = "accettazione-esterno"
    NON_ACCETTAZIONE = "non-accettazione"
    AVVENUTA_CONSEGNA = "avvenuta-consegna"
    ERRORE_CONSEGNA = "errore-consegna"
    PREAVVISO = "preavviso"              # preavviso-errore-consegna, not known to be the final one
    PREAVVISO_FINALE = "preavviso-finale"
    ANOMALIA = "anomalia"                # DSN bounce after an `esterno` acceptance


SMTP_KINDS = frozenset({
    EventKind.IN_INVIO, EventKind.SMTP_INVIATO, EventKind.SMTP_RIFIUTATO, EventKind.SMTP_TEMPORANEO,
    EventKind.SMTP_ESAURITO, EventKind.SMTP_IN_DUBBIO, EventKind.INCERTO,
})
RECEIPT_KINDS = frozenset({
    EventKind.ACCETTAZIONE, EventKind.ACCETTAZIONE_ESTERNO, EventKind.NON_ACCETTAZIONE,
    EventKind.AVVENUTA_CONSEGNA, EventKind.ERRORE_CONSEGNA, EventKind.PREAVVISO,
    EventKind.PREAVVISO_FINALE, EventKind.ANOMALIA,
})
EVENT_KINDS = SMTP_KINDS | RECEIPT_KINDS

FINAL_TIMEOUT_AFTER = timedelta(hours=22)
"""A timeout notice this long after acceptance is the final (24 h) one, not the 12 h warning."""
FINAL_TIMEOUT_ERROR_PREFIX = "5.4.1"


class Event(NamedTuple):
    """One thing that happened to an attempt. `event_time` is timezone-aware (UTC in the journal).

    `seq` orders events recorded at the same time (the journal's insertion order). A NamedTuple:
    the journal builds one per event when it derives a whole campaign, so it must be cheap.
    """

    kind: str
    event_time: datetime
    esito: str | None = None
    detail: str | None = None
    smtp_code: int | None = None
    retry_count: int | None = None
    receipt_message_id: str | None = None
    provider_id: str | None = None
    signature: str | None = None
    recipient: str | None = None
    archive_path: str | None = None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class DerivedStatus:
    """What the result columns show for one attempt (dates are aware datetimes, UTC)."""

    stato: str
    esito: str = ""
    dettaglio: str = ""
    inviata_il: datetime | None = None
    accettata_il: datetime | None = None
    consegnata_il: datetime | None = None
    firma: str = ""
    winning_kind: str | None = None
    unverified_receipts: tuple[Event, ...] = field(default=())
    overruled: tuple[Event, ...] = field(default=())
    """Unverified receipts ignored because a verified receipt decided the outcome."""
    ignored_bounces: tuple[Event, ...] = field(default=())
    """Bounces that arrived on a certified row (not `Accettato (non PEC)`): shown, never a state."""


    @property
    def final(self) -> bool:
        return self.stato in FINAL_STATUSES

    @property
    def handed_over(self) -> bool:
        return self.stato in HANDED_OVER_STATUSES


# Rank of each (status, event kind): status first, then which event explains it best.
_STATUS_RANK = {
    ST_DELIVERED: 100,
    ST_NOT_DELIVERED: 90,
    ST_NOT_ACCEPTED: 80,
    ST_ACCEPTED_EXTERNAL: 70,
    ST_DELAYED: 60,
    ST_ACCEPTED: 50,
    ST_SENT: 40,
    ST_REFUSED: 35,
    ST_UNCERTAIN: 30,
    ST_TO_SEND: 20,
    ST_SENDING: 10,
}
_KIND_SUBRANK = {
    EventKind.ERRORE_CONSEGNA: 4,   # most specific cause of a Mancata consegna
    EventKind.ANOMALIA: 3,
    EventKind.PREAVVISO_FINALE: 2,
    EventKind.PREAVVISO: 1,
    EventKind.SMTP_IN_DUBBIO: 3,    # among the In invio events: the most telling first
    EventKind.SMTP_TEMPORANEO: 2,
    EventKind.IN_INVIO: 1,
}
_KIND_STATUS = {
    EventKind.IN_INVIO: ST_SENDING,
    EventKind.SMTP_TEMPORANEO: ST_SENDING,
    EventKind.SMTP_IN_DUBBIO: ST_SENDING,
    EventKind.SMTP_ESAURITO: ST_TO_SEND,
    EventKind.INCERTO: ST_UNCERTAIN,
    EventKind.SMTP_RIFIUTATO: ST_REFUSED,
    EventKind.SMTP_INVIATO: ST_SENT,
    EventKind.ACCETTAZIONE: ST_ACCEPTED,
    EventKind.PREAVVISO: ST_DELAYED,  # or ST_NOT_DELIVERED when it is the final notice
    EventKind.ACCETTAZIONE_ESTERNO: ST_ACCEPTED_EXTERNAL,
    EventKind.NON_ACCETTAZIONE: ST_NOT_ACCEPTED,
    EventKind.ERRORE_CONSEGNA: ST_NOT_DELIVERED,
    EventKind.PREAVVISO_FINALE: ST_NOT_DELIVERED,
    EventKind.ANOMALIA: ST_NOT_DELIVERED,
    EventKind.AVVENUTA_CONSEGNA: ST_DELIVERED,
}
_DEFAULT_ESITO = {
    ST_DELIVERED: ESITO_CONSEGNATA,
    ST_ACCEPTED_EXTERNAL: ESITO_NON_PEC,
    ST_NOT_ACCEPTED: ESITO_ALTRO,
    ST_NOT_DELIVERED: ESITO_ALTRO,
    ST_REFUSED: ESITO_RIFIUTATO,
    ST_UNCERTAIN: ESITO_INCERTO,
    ST_TO_SEND: ESITO_TEMPORANEO,
}
"""Esito when the event brings none. Non-final states have no Esito."""

MSG_IN_DUBBIO = "Connessione persa dopo l'invio: si cerca la ricevuta di accettazione"
MSG_INCERTO = (
    "Connessione persa dopo l'invio e nessuna ricevuta di accettazione entro l'attesa: "
    "il messaggio potrebbe essere partito. Non viene reinviato automaticamente"
)
MSG_RITARDO = "Preavviso di mancata consegna: nessuna consegna entro 12 ore"
MSG_TEMPO_SCADUTO = "Mancata consegna per superamento del tempo massimo"
MSG_NON_INVIATO = "Non consegnato al server: la riga sarà inviata al prossimo invio"


def _retry_text(event: Event) -> str:
    return f" dopo {plural(event.retry_count, 'tentativo')}" if event.retry_count else ""


def _dettaglio(stato: str, event: Event) -> str:
    words = (event.detail or "").strip()
    kind = event.kind
    if kind == EventKind.SMTP_ESAURITO:
        if event.retry_count is None:  # not temporary errors (a stop, a refused login): sender's words
            return words or MSG_NON_INVIATO
        text = f"Non inviato: errori temporanei{_retry_text(event)}; verrà ritentato al prossimo invio"
        return f"{text}. Ultima risposta: {words}" if words else text
    if kind == EventKind.SMTP_TEMPORANEO:
        attempt = f" (tentativo {event.retry_count})" if event.retry_count else ""
        return f"Errore temporaneo{attempt}, nuovo tentativo in corso: {words}" if words else (
            f"Errore temporaneo{attempt}, nuovo tentativo in corso")
    if words:
        return words
    if kind == EventKind.SMTP_IN_DUBBIO:
        return MSG_IN_DUBBIO
    if kind == EventKind.INCERTO:
        return MSG_INCERTO
    if stato == ST_DELAYED:
        return MSG_RITARDO
    if kind in (EventKind.PREAVVISO, EventKind.PREAVVISO_FINALE):
        return MSG_TEMPO_SCADUTO
    return ""


def _esito(stato: str, event: Event) -> str:
    if event.kind == EventKind.SMTP_ESAURITO and event.retry_count is None:
        return ""  # ended without hand-over for another reason than temporary errors
    if stato == ST_NOT_DELIVERED and event.kind in (EventKind.PREAVVISO, EventKind.PREAVVISO_FINALE):
        default = ESITO_TEMPO_SCADUTO
    else:
        default = _DEFAULT_ESITO.get(stato, "")
    if not default:
        return ""
    given = (event.esito or "").strip()
    if not given:
        return default
    return given if given in ESITI else ESITO_ALTRO


_CHRONOLOGICAL = attrgetter("event_time", "seq")


def dedupe_events(events: Iterable[Event]) -> list[Event]:
    """Events in chronological order, each receipt record once. (The journal already keeps one
    record per signed receipt; this drops exact repeats handed in twice, never two different
    messages that merely share an unsigned top-level Message-ID.)"""
    seen: set[tuple] = set()
    unique: list[Event] = []
    for event in sorted(events, key=_CHRONOLOGICAL):
        if event.receipt_message_id is not None and event.kind in RECEIPT_KINDS:
            key = (event.receipt_message_id, event.kind, event.event_time, event.signature, event.provider_id,
                   event.recipient, event.detail)
            if key in seen:
                continue
            seen.add(key)
        unique.append(event)
    return unique


def _first_times(events: Sequence[Event]) -> dict[str, datetime]:
    """Earliest time of each event kind (events are chronological, so the first one seen)."""
    first: dict[str, datetime] = {}
    for event in events:
        first.setdefault(event.kind, event.event_time)
    return first


def _earliest(first: dict[str, datetime], *kinds: str) -> datetime | None:
    times = [first[kind] for kind in kinds if kind in first]
    return min(times) if times else None


TIMEOUT_KINDS = frozenset({EventKind.PREAVVISO, EventKind.PREAVVISO_FINALE})
VERIFIED_FINAL_STATUSES = frozenset({ST_DELIVERED, ST_NOT_DELIVERED, ST_NOT_ACCEPTED, ST_ACCEPTED_EXTERNAL})
"""States a verified receipt makes final: no unverified message may replace them."""
_UNTRUSTED = frozenset({FIRMA_NON_VERIFICATA, FIRMA_ASSENTE})


def is_trusted(event: Event) -> bool:
    """SMTP events and verified receipts. (Receipts recorded by the sync always carry a verdict;
    an event without one comes from a direct journal write and is taken as checked.)"""
    return event.signature not in _UNTRUSTED


def _final_notices(events: Sequence[Event], reference: datetime | None, any_reference: datetime | None) -> set[int]:
    """Indexes (into `events`) of timeout notices that are the final one, from their certified data
    only (never our clock). A second notice counts only when both are verified and the signed
    notices differ (a replay with a new top-level Message-ID has the same signed date, identifier
    and recipient). `reference`: the verified acceptance's signed time; an unverified notice is
    measured from `any_reference` (the earliest acceptance) and, being unverified, can end only a
    row without a verified final outcome (`derive_status`)."""
    final: set[int] = set()
    counted: set[tuple] = set()
    for index, event in enumerate(events):
        if event.kind not in TIMEOUT_KINDS:
            continue
        trusted = is_trusted(event)
        start = reference if trusted else any_reference
        identity = (event.event_time, event.provider_id, event.recipient)
        if trusted and identity in counted:
            continue  # the same signed notice seen again
        if trusted and counted:  # a second distinct verified notice (events are chronological)
            final.add(index)
        elif (event.detail or "").strip().startswith(FINAL_TIMEOUT_ERROR_PREFIX):
            final.add(index)
        elif start is not None and event.event_time - start >= FINAL_TIMEOUT_AFTER:
            final.add(index)
        if trusted:
            counted.add(identity)
    return final


def _status_of(index: int, event: Event, final_notices: set[int]) -> str:
    if event.kind in TIMEOUT_KINDS:
        return ST_NOT_DELIVERED if index in final_notices else ST_DELAYED
    return _KIND_STATUS[event.kind]


def _best(candidates: Iterable[tuple[int, Event]], final_notices: set[int]) -> tuple[Event | None, str, tuple | None]:
    best: tuple[int, int, int] | None = None
    best_event: Event | None = None
    best_status = ST_TO_SEND
    for index, event in candidates:
        stato = _status_of(index, event, final_notices)
        # Ties between equal events go to the latest one (its answer is the current one).
        rank = (_STATUS_RANK[stato], _KIND_SUBRANK.get(event.kind, 0), index)
        if best is None or rank > best:
            best, best_event, best_status = rank, event, stato
    return best_event, best_status, best


def derive_status(events: Iterable[Event], *, committed_at: datetime | None = None) -> DerivedStatus:
    """The status of one attempt from its events (any order, duplicates allowed).

    Three passes (module docstring): trusted events alone; unverified receipts join only when the
    trusted ones give no final state; bounces join only when the result is `Accettato (non PEC)`.
    `committed_at` only tells `In invio` from `Da inviare` when there are no events.
    """
    ordered = dedupe_events(events)
    if not ordered:
        return DerivedStatus(stato=ST_SENDING if committed_at is not None else ST_TO_SEND)

    first = _first_times(ordered)
    acceptances = [e for e in ordered if e.kind in (EventKind.ACCETTAZIONE, EventKind.ACCETTAZIONE_ESTERNO)]
    trusted_acceptances = [e.event_time for e in acceptances if is_trusted(e)]
    final_notices = _final_notices(ordered, min(trusted_acceptances) if trusted_acceptances else None,
                                   min((e.event_time for e in acceptances), default=None))

    known = [(i, e) for i, e in enumerate(ordered) if e.kind in _KIND_STATUS]  # unknown kinds never count
    bounces = [(i, e) for i, e in known if e.kind == EventKind.ANOMALIA]
    receipts_and_smtp = [(i, e) for i, e in known if e.kind != EventKind.ANOMALIA]
    trusted = [(i, e) for i, e in receipts_and_smtp if is_trusted(e)]
    untrusted = [(i, e) for i, e in receipts_and_smtp if not is_trusted(e)]

    best_event, best_status, rank = _best(trusted, final_notices)
    overruled: tuple[Event, ...] = ()
    if best_status in VERIFIED_FINAL_STATUSES and best_event is not None and best_event.kind in RECEIPT_KINDS:
        overruled = tuple(e for _, e in untrusted if e.kind in RECEIPT_KINDS)
    else:
        best_event, best_status, rank = _best(trusted + untrusted, final_notices)
    ignored_bounces: tuple[Event, ...] = ()
    if best_status == ST_ACCEPTED_EXTERNAL:
        bounce_event, bounce_status, bounce_rank = _best(bounces, final_notices)
        if bounce_event is not None and (rank is None or bounce_rank > rank):
            best_event, best_status = bounce_event, bounce_status
    else:
        ignored_bounces = tuple(e for _, e in bounces)
    if best_event is None:
        return DerivedStatus(stato=ST_SENDING if committed_at is not None else ST_TO_SEND,
                             ignored_bounces=ignored_bounces)

    inviata_il = first.get(EventKind.SMTP_INVIATO)
    if inviata_il is None and not RECEIPT_KINDS.isdisjoint(first):
        # Handed over but the 250 was never recorded (in doubt, then a receipt came).
        inviata_il = (
            first.get(EventKind.SMTP_IN_DUBBIO)  # end of DATA: the actual hand-over
            or first.get(EventKind.IN_INVIO)
            or committed_at
        )

    firma = ""
    if best_event.kind in RECEIPT_KINDS and best_event.signature:
        firma = best_event.signature

    return DerivedStatus(
        stato=best_status,
        esito=_esito(best_status, best_event),
        dettaglio=_dettaglio(best_status, best_event),
        inviata_il=inviata_il,
        accettata_il=_earliest(first, EventKind.ACCETTAZIONE, EventKind.ACCETTAZIONE_ESTERNO),
        consegnata_il=first.get(EventKind.AVVENUTA_CONSEGNA),
        firma=firma,
        winning_kind=best_event.kind,
        unverified_receipts=tuple(
            e for e in ordered if e.kind in RECEIPT_KINDS and e.signature == FIRMA_NON_VERIFICATA
        ),
        overruled=overruled,
        ignored_bounces=ignored_bounces,
    )
