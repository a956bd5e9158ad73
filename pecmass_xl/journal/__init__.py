"""Persistence of a mass send: the campaign journal, the per-mailbox ledger, usage counters, locks.

- `store.Journal`: one SQLite file per campaign, rows by `ID invio`, attempts, events.
- `status`: the pure derivation of `Stato invio`, `Esito`, `Dettaglio`, dates and `Firma`.
- `ledger.Ledger`: every message handed over, per mailbox, for re-adoption by content hash.
- `usage.UsageCounter`: messages and mass sends per month per mailbox.
- `ids`: campaign ids, `ID invio`, Message-IDs. `content_hash`: the normalised content hash.
- `locks`: cross-process locks (one send per workbook, per mailbox) and the shared pacer.
"""

from pecmass_xl.journal.content_hash import content_hash
from pecmass_xl.journal.ids import (
    ParsedMessageId,
    build_message_id,
    build_test_message_id,
    new_campaign_id,
    new_row_id,
    parse_message_id,
)
from pecmass_xl.journal.ledger import Ledger, LedgerEntry
from pecmass_xl.journal.locks import FileLock, Pacer, SendInProgress, campaign_lock, hold_campaign_lock, mailbox_lock
from pecmass_xl.journal.status import DerivedStatus, Event, EventKind, derive_status
from pecmass_xl.journal.store import (
    Attempt,
    AttemptPending,
    Journal,
    RowView,
    SyncState,
    TrialAttemptView,
    journal_path,
)
from pecmass_xl.journal.usage import MonthlyUsage, UsageCounter

__all__ = [
    "Attempt", "AttemptPending", "DerivedStatus", "Event", "EventKind", "FileLock", "Journal", "Ledger",
    "LedgerEntry", "MonthlyUsage", "Pacer", "ParsedMessageId", "RowView", "SendInProgress", "SyncState",
    "TrialAttemptView", "UsageCounter", "campaign_lock", "hold_campaign_lock", "mailbox_lock", "build_message_id", "build_test_message_id", "content_hash",
    "derive_status", "journal_path", "new_campaign_id", "new_row_id", "parse_message_id",
]
