"""Rebuilding a damaged ledger from the journals (issue 10).

A ledger SQLite cannot open is set aside and started empty (`_db`); empty, it would forget every
hand-over, and the guard would let an identical PEC through. Every journal of this user still knows
its hand-overs: each attempt of the mailbox comes back as a record with its outcome.
"""

from __future__ import annotations

import logging

from pecmass_xl.core import paths
from pecmass_xl.core.vocabulary import ST_REFUSED, ST_SENDING, ST_UNCERTAIN
from pecmass_xl.journal.ledger import (
    OUTCOME_IN_DOUBT,
    OUTCOME_NOT_SENT,
    OUTCOME_REFUSED,
    OUTCOME_SENT,
    Ledger,
    normalise_mailbox,
)
from pecmass_xl.journal.status import HANDED_OVER_STATUSES
from pecmass_xl.journal.store import Journal

log = logging.getLogger("pecmass.ledger")


def _outcome(stato: str) -> str:
    if stato in (ST_UNCERTAIN, ST_SENDING):
        return OUTCOME_IN_DOUBT
    if stato in HANDED_OVER_STATUSES:
        return OUTCOME_SENT
    return OUTCOME_REFUSED if stato == ST_REFUSED else OUTCOME_NOT_SENT


def rebuild_ledger(ledger: Ledger, mailbox: str) -> int:
    """Put back each hand-over of `mailbox` that a journal of this user records; returns how many."""
    restored = 0
    for path in sorted(paths.journals_dir().glob("*.sqlite")):
        try:
            journal = Journal(path)
        except Exception as exc:  # noqa: BLE001 - one unreadable journal must not stop the others (logged)
            log.warning("journal skipped while rebuilding the ledger: %s", type(exc).__name__)
            continue
        with journal:
            if normalise_mailbox(journal.campaign_info().mailbox or "") != normalise_mailbox(mailbox):
                continue
            for row_id in journal.row_ids():
                for attempt in journal.attempts_for_row(row_id):
                    if attempt.adopted_from is not None or not attempt.content_hash:
                        continue  # a re-adoption never left by itself; a restored attempt has no hash
                    ledger.claim_handover(mailbox=mailbox, recipient=attempt.recipient,
                                          content_hash=attempt.content_hash, campaign_id=journal.campaign_id,
                                          row_id=row_id, message_id=attempt.message_id, allow_identical=True,
                                          when=attempt.committed_at)
                    ledger.set_outcome(attempt.message_id, _outcome(journal.attempt_status(attempt).stato))
                    restored += 1
    log.info("ledger rebuilt from the journals: %d records", restored)
    return restored
