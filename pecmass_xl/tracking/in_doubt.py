"""Attempts that may or may not have left (DESIGN §5.1): look for their acceptance receipt.

Every attempt left `In invio` may have left, whatever is missing locally: a `.eml` or its path lost
to a power cut or a cleaned folder is never taken as proof that nothing was sent (issue 10). A
read-only IMAP search on `X-Riferimento-Message-ID` polls the receipts folders for the configured
wait; found → the receipt decides; not found → `Incerto`, never resent automatically (a later
receipt still upgrades it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pecmass_xl.campaign.settings import Settings
from pecmass_xl.core.errors import CannotRun, LoginRefused
from pecmass_xl.core.italian import clause, duration, plural
from pecmass_xl.journal import Attempt, Journal
from pecmass_xl.journal.status import EventKind

if TYPE_CHECKING:
    from pecmass_xl.mailclient.imap_session import ImapSession

log = logging.getLogger("pecmass.send")
INTERRUPTED = "Esito della consegna al server sconosciuto (interruzione)"
EML_MISSING = ("Esito della consegna al server sconosciuto (interruzione) e copia archiviata del messaggio "
               "mancante: si cercano le ricevute, nessun nuovo invio automatico")


def _search_once(session: ImapSession, journal: Journal, attempts: list[Attempt], settings: Settings, archive_root: Path) -> set[str]:
    # Imported on first use: the signature checks weigh on every start, and most runs never need them.
    from pecmass_xl.tracking.ingest import ingest
    from pecmass_xl.tracking.trust import verifier_for

    found: set[str] = set()
    verifier = verifier_for(settings)
    for folder in settings.receipt_folders:
        session.examine(folder)
        for attempt in attempts:
            uids = session.search_reference(attempt.message_id)
            if not uids:
                continue
            for raw in session.fetch_raw(uids).values():
                result = ingest(journal, raw, verifier, archive_root)
                if result is not None and result.event and not result.quarantined:
                    found.add(attempt.message_id)
    return found


def resolve_in_doubt(journal: Journal, attempts: list[Attempt], settings: Settings, password: str,
                     archive_root: Path, wait_seconds: float, poll_seconds: float = 5.0,
                     should_stop: Callable[[], bool] | None = None, on_message: Callable[[str], None] | None = None) -> dict[str, str]:
    """Resolve each attempt; returns Message-ID → 'receipt' | 'incerto' | 'not-handed-over'."""
    outcome: dict[str, str] = {}
    pending: list[Attempt] = []
    for attempt in attempts:
        attempt = journal.attempt_by_message_id(attempt.message_id) or attempt  # fresh: eml_path is set late
        if attempt.adopted_from is None and not any(e.kind == EventKind.SMTP_IN_DUBBIO for e in journal.events(attempt)):
            missing = not attempt.eml_path or not Path(attempt.eml_path).exists()
            journal.add_event(attempt, EventKind.SMTP_IN_DUBBIO, detail=EML_MISSING if missing else INTERRUPTED)
        pending.append(attempt)
    if not pending:
        return outcome
    if on_message:
        on_message(f"{plural(len(pending), 'messaggio')} in dubbio: cerco le ricevute di accettazione (fino a {duration(wait_seconds)})…")
    deadline = time.monotonic() + wait_seconds
    stopped = False
    try:
        from pecmass_xl.mailclient.imap_session import ImapSession  # on first use, as above

        with ImapSession(settings, password).connect() as session:
            while pending:
                found = _search_once(session, journal, pending, settings, archive_root)
                for attempt in [a for a in pending if a.message_id in found]:
                    outcome[attempt.message_id] = "receipt"
                pending = [a for a in pending if a.message_id not in found]
                if should_stop and should_stop():
                    stopped = True  # leave them in doubt: the next run looks again
                    break
                if not pending or time.monotonic() >= deadline:
                    break
                time.sleep(min(poll_seconds, max(deadline - time.monotonic(), 0)))
    except LoginRefused:
        raise
    except CannotRun as exc:
        log.warning("in-doubt search failed: %s", type(exc).__name__)
        detail = f"Ricerca della ricevuta non riuscita ({clause(exc)}); il messaggio potrebbe essere partito"
        for attempt in pending:
            journal.add_event(attempt, EventKind.INCERTO, detail=detail)
            outcome[attempt.message_id] = "incerto"
        return outcome
    for attempt in pending:
        if stopped:
            outcome[attempt.message_id] = "in-doubt"
            continue
        journal.add_event(attempt, EventKind.INCERTO)
        outcome[attempt.message_id] = "incerto"
    return outcome
