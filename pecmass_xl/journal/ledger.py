"""The per-user, per-mailbox ledger of every message handed over (DESIGN §5.1).

The journal is keyed by `ID invio`, which lives in the workbook; when a row loses it (workbook closed
unsaved, row copied, list re-imported) the journal alone cannot tell the row was already sent. The
ledger can: it remembers, per sender mailbox, the hash of each message's normalised content
(`content_hash.content_hash`) with its campaign, `ID invio` and Message-ID. A row without an
`ID invio` whose content matches an earlier hand-over re-adopts that `ID invio` (and so its status)
instead of being sent again.

Entries are written durably *before* the hand-over, right after the journal's attempt (which mints
the Message-ID). Both commits precede the SMTP hand-over, so a crash between them loses nothing that
left: the attempt is then resolved as in doubt, and a ledger entry without an attempt in the
journal reads as "not sent".

The ledger file (`data_dir()/ledger.sqlite`, or inside the sandbox folder for the `Sandbox` preset)
also holds the usage counters (`usage.py`) and per-mailbox acknowledgements (Legalmail's notice).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pecmass_xl.core import paths
from pecmass_xl.journal._db import Database, from_db_time, to_db_time, utc_now

LEDGER_FILE_NAME = "ledger.sqlite"

# One schema for the whole ledger file: the ledger, the usage counters, the acknowledgements.
LEDGER_FILE_MIGRATIONS = (
    # version 1
    """
    CREATE TABLE handovers (
        handover_pk INTEGER PRIMARY KEY,
        mailbox TEXT NOT NULL,
        recipient TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        campaign_id TEXT NOT NULL,
        row_id TEXT,
        message_id TEXT NOT NULL UNIQUE,
        recorded_at TEXT NOT NULL
    );
    CREATE INDEX handovers_content ON handovers(mailbox, content_hash);
    CREATE INDEX handovers_campaign ON handovers(campaign_id);
    CREATE TABLE usage (
        mailbox TEXT NOT NULL,
        month TEXT NOT NULL,
        campaign_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('normal', 'test')),
        messages INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (mailbox, month, campaign_id, kind)
    );
    CREATE TABLE acknowledgements (
        mailbox TEXT NOT NULL,
        notice TEXT NOT NULL,
        acknowledged_at TEXT NOT NULL,
        PRIMARY KEY (mailbox, notice)
    )
    """,
    # version 2 (issue 10): the SMTP outcome of each message, not only the intent, and a fast look-up
    # of identical PECs (same sender mailbox, recipient, content) for the hand-over guard.
    """
    ALTER TABLE handovers ADD COLUMN outcome TEXT;
    CREATE INDEX handovers_identical ON handovers(mailbox, recipient, content_hash)
    """,
)

# Ledger outcomes. NULL = an intent with no answer yet (pending: it may have left).
OUTCOME_SENT = "sent"  # the SMTP server accepted it (250)
OUTCOME_IN_DOUBT = "in-doubt"  # the connection died after DATA: it may have left
OUTCOME_REFUSED = "refused"  # permanently refused (5xx): it did not leave
OUTCOME_NOT_SENT = "not-sent"  # never handed over (temporary errors outlasted, a stop)
OUTCOMES = frozenset({OUTCOME_SENT, OUTCOME_IN_DOUBT, OUTCOME_REFUSED, OUTCOME_NOT_SENT})
_LEFT_OR_MAYBE = "(outcome IS NULL OR outcome IN ('sent', 'in-doubt'))"
"""Records of a PEC that left or may have left: they block an identical one."""

DEFAULT_IDENTICAL_WINDOW_DAYS = 30  # as `Blocco PEC identiche (giorni)` (workbook contract)


def default_ledger_path() -> Path:
    return paths.data_dir() / LEDGER_FILE_NAME


def normalise_mailbox(mailbox: str) -> str:
    """Mailboxes compare case-insensitively (`Studio@PEC.it` is `studio@pec.it`)."""
    return mailbox.strip().lower()


def open_ledger_file(path: Path | str | None) -> Database:
    return Database(
        Path(path) if path is not None else default_ledger_path(), LEDGER_FILE_MIGRATIONS, what="il registro invii"
    )


@dataclass(frozen=True)
class LedgerEntry:
    mailbox: str
    recipient: str
    content_hash: str
    campaign_id: str
    row_id: str | None
    message_id: str
    recorded_at: datetime
    outcome: str | None = None

    @property
    def handed_over(self) -> bool:
        return self.outcome == OUTCOME_SENT


def _entry(row) -> LedgerEntry:
    return LedgerEntry(
        mailbox=row["mailbox"],
        recipient=row["recipient"],
        content_hash=row["content_hash"],
        campaign_id=row["campaign_id"],
        row_id=row["row_id"],
        message_id=row["message_id"],
        recorded_at=from_db_time(row["recorded_at"]),
        outcome=row["outcome"],
    )


class LedgerFile:
    """An open ledger file (default `data_dir()/ledger.sqlite`; any explicit path, e.g. a sandbox's).

    The ledger and the usage counters share the file, its migrations and this lifecycle.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self._db = open_ledger_file(path)
        self.rebuilt: int | None = None
        """How many records were put back after a damaged file was set aside (None: it was fine)."""

    @property
    def path(self) -> Path:
        return self._db.path

    @property
    def set_aside(self) -> Path | None:
        """Where a damaged ledger file was moved when this one was started afresh."""
        return self._db.set_aside

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Ledger(LedgerFile):
    """Every message handed over, per mailbox: re-adoption of rows that lost their `ID invio`."""

    def record(
        self,
        *,
        mailbox: str,
        recipient: str,
        content_hash: str,
        campaign_id: str,
        row_id: str | None,
        message_id: str,
        when: datetime | None = None,
    ) -> None:
        """Remember a message about to be handed over (durable; idempotent per Message-ID).

        `row_id` is None for a test send: it is remembered but never re-adopted by a row.
        """
        # Forced to disk: it precedes the (test) hand-over; lost, the ledger would not know it left.
        with self._db.transaction(durable=True) as c:
            c.execute(
                "INSERT INTO handovers (mailbox, recipient, content_hash, campaign_id, row_id, message_id, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(message_id) DO NOTHING",
                (
                    normalise_mailbox(mailbox), recipient.strip().lower(), content_hash, campaign_id, row_id,
                    message_id, to_db_time(when or utc_now()),
                ),
            )

    def claim_handover(
        self,
        *,
        mailbox: str,
        recipient: str,
        content_hash: str,
        campaign_id: str,
        row_id: str,
        message_id: str,
        window_days: float = DEFAULT_IDENTICAL_WINDOW_DAYS,
        allow_identical: bool = False,
        when: datetime | None = None,
    ) -> LedgerEntry | None:
        """The hand-over guard (issue 10): record the intent to hand `message_id` over, unless an
        identical PEC (same mailbox, recipient, content) is already recorded, within the last
        `window_days`, as handed over or still without an answer, by another campaign or another
        row. Check and record happen in one write transaction, so two processes (two copies of a
        workbook) cannot both pass. Returns the earlier record when refused (nothing recorded), None
        when recorded. The same row's own retries are exempt; `allow_identical` is the explicit
        resend. Forced to disk: the record must exist before the hand-over it guards.
        """
        now = when or utc_now()
        mailbox_key, recipient_key = normalise_mailbox(mailbox), recipient.strip().lower()
        # Forced to disk: the guard's record must survive a power cut right after the hand-over.
        with self._db.transaction(durable=True) as c:
            if not allow_identical:
                earlier = c.execute(
                    f"SELECT * FROM handovers WHERE mailbox = ? AND recipient = ? AND content_hash = ? "
                    f"AND {_LEFT_OR_MAYBE} AND row_id IS NOT NULL AND message_id != ? "
                    "AND NOT (campaign_id = ? AND row_id = ?) AND recorded_at >= ? "
                    "ORDER BY recorded_at, handover_pk LIMIT 1",
                    (mailbox_key, recipient_key, content_hash, message_id, campaign_id, row_id,
                     to_db_time(now - timedelta(days=max(window_days, 0)))),
                ).fetchone()
                if earlier is not None:
                    return _entry(earlier)
            c.execute(
                "INSERT INTO handovers (mailbox, recipient, content_hash, campaign_id, row_id, message_id, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(message_id) DO NOTHING",
                (mailbox_key, recipient_key, content_hash, campaign_id, row_id, message_id, to_db_time(now)),
            )
        return None

    def set_outcome(self, message_id: str, outcome: str) -> None:
        """The SMTP outcome of a recorded message. Not forced to disk: if a power cut loses it, the
        record reads as pending, which blocks an identical PEC as a hand-over would (the safe side)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self._db.transaction() as c:
            c.execute("UPDATE handovers SET outcome = ? WHERE message_id = ?", (outcome, message_id.strip()))

    def identical(
        self, mailbox: str, recipient: str, content_hash: str, *, window_days: float | None = None
    ) -> list[LedgerEntry]:
        """Earlier records of an identical PEC that left or may have left, newest first."""
        sql = (f"SELECT * FROM handovers WHERE mailbox = ? AND recipient = ? AND content_hash = ? "
               f"AND {_LEFT_OR_MAYBE} AND row_id IS NOT NULL")
        params: list[object] = [normalise_mailbox(mailbox), recipient.strip().lower(), content_hash]
        if window_days is not None:
            sql += " AND recorded_at >= ?"
            params.append(to_db_time(utc_now() - timedelta(days=max(window_days, 0))))
        return [_entry(r) for r in self._db.read(sql + " ORDER BY recorded_at DESC, handover_pk DESC", params)]

    def find_by_content_hash(
        self, mailbox: str, content_hash: str, *, campaign_id: str | None = None
    ) -> list[LedgerEntry]:
        """Earlier hand-overs of the same content from this mailbox, newest first."""
        sql = "SELECT * FROM handovers WHERE mailbox = ? AND content_hash = ?"
        params: list[object] = [normalise_mailbox(mailbox), content_hash]
        if campaign_id is not None:
            sql += " AND campaign_id = ?"
            params.append(campaign_id)
        sql += " ORDER BY recorded_at DESC, handover_pk DESC"
        return [_entry(r) for r in self._db.read(sql, params)]

    def find_by_message_id(self, message_id: str) -> LedgerEntry | None:
        row = self._db.read_one("SELECT * FROM handovers WHERE message_id = ?", (message_id.strip(),))
        return None if row is None else _entry(row)

    def entries_for_campaign(self, campaign_id: str) -> list[LedgerEntry]:
        rows = self._db.read(
            "SELECT * FROM handovers WHERE campaign_id = ? ORDER BY recorded_at, handover_pk", (campaign_id,)
        )
        return [_entry(r) for r in rows]

    def readoption_candidate(
        self, mailbox: str, content_hash: str, campaign_id: str, taken_row_ids: Container[str] = ()
    ) -> LedgerEntry | None:
        """The earlier hand-over a row without `ID invio` should re-adopt, if any.

        Same mailbox, same content, same campaign, a real row (not a test send), and an `ID invio`
        no other row of the sheet holds now (`taken_row_ids`). Matches in *other* campaigns are not
        re-adopted (their `ID invio` lives in another journal): `find_by_content_hash` shows them so
        the sender can refuse or warn.
        """
        for entry in self.find_by_content_hash(mailbox, content_hash, campaign_id=campaign_id):
            if entry.row_id is not None and entry.row_id not in taken_row_ids:
                return entry
        return None

    # --- per-mailbox acknowledgements (e.g. Legalmail's contract notice, asked once) ------------
    def acknowledge(self, mailbox: str, notice: str) -> None:
        with self._db.transaction() as c:
            c.execute(
                "INSERT INTO acknowledgements (mailbox, notice, acknowledged_at) VALUES (?, ?, ?) "
                "ON CONFLICT(mailbox, notice) DO NOTHING",
                (normalise_mailbox(mailbox), notice, to_db_time(utc_now())),
            )

    def is_acknowledged(self, mailbox: str, notice: str) -> bool:
        row = self._db.read_one(
            "SELECT 1 FROM acknowledgements WHERE mailbox = ? AND notice = ?", (normalise_mailbox(mailbox), notice)
        )
        return row is not None
