"""The campaign journal: the single source of truth of what was sent and what happened to it.

One SQLite file per campaign (`journals_dir()/<campaign id>.sqlite`). Rows are keyed by `ID invio`,
never by sheet position; each send of a row is an attempt with its own Message-ID; everything that
happens to an attempt (SMTP answers, receipts) is an append-only event. Status is never stored: it is
derived from the events by `status.derive_status` every time it is read.

Writers: the sending worker and a receipts sync may write the same journal at once; see `_db` for
the locking and durability rules. `begin_attempt` is the one durable commit that must precede the
hand-over of a message to SMTP (DESIGN §5.1).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import groupby
from pathlib import Path

from pecmass_xl.core import paths
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.vocabulary import (
    COL_ACCEPTED_AT,
    COL_DELIVERED_AT,
    COL_DETAIL,
    COL_ID,
    COL_OUTCOME,
    COL_SENT_AT,
    COL_SIGNATURE,
    COL_STATUS,
    FIRMA_VERIFICATA,
    FIRME,
    ST_SENDING,
    ST_TO_SEND,
)
from pecmass_xl.journal import ids
from pecmass_xl.journal._db import Database, from_db_time, to_db_time, utc_now
from pecmass_xl.journal.status import (
    EVENT_KINDS,
    FAILED_STATUSES,
    HANDED_OVER_STATUSES,
    RECEIPT_KINDS,
    UNCERTAIN_STATUSES,
    DerivedStatus,
    Event,
    EventKind,
    derive_status,
)

KIND_NORMAL = "normal"
KIND_TEST = "test"

RESEND_FAILED = "failed"
RESEND_UNCERTAIN = "uncertain"
RESEND_SENT = "sent"
RESEND_CHOICES = frozenset({RESEND_FAILED, RESEND_UNCERTAIN, RESEND_SENT})

_MIGRATIONS = (
    # version 1
    """
    CREATE TABLE campaign (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        campaign_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        mailbox TEXT,
        sender_domain TEXT,
        workbook_path TEXT
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT
    );
    CREATE TABLE rows (
        row_id TEXT PRIMARY KEY,
        recipient TEXT,
        row_number INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE TABLE attempts (
        attempt_pk INTEGER PRIMARY KEY,
        row_id TEXT REFERENCES rows(row_id),
        kind TEXT NOT NULL CHECK (kind IN ('normal', 'test')),
        number INTEGER NOT NULL CHECK (number >= 1),
        message_id TEXT NOT NULL UNIQUE,
        content_hash TEXT NOT NULL,
        recipient TEXT NOT NULL,
        source_row INTEGER,
        eml_path TEXT,
        committed_at TEXT NOT NULL,
        CHECK ((kind = 'normal') = (row_id IS NOT NULL))
    );
    CREATE UNIQUE INDEX attempts_row_number ON attempts(row_id, number) WHERE kind = 'normal';
    CREATE UNIQUE INDEX attempts_test_number ON attempts(number) WHERE kind = 'test';
    CREATE TABLE events (
        event_pk INTEGER PRIMARY KEY,
        attempt_pk INTEGER NOT NULL REFERENCES attempts(attempt_pk),
        kind TEXT NOT NULL,
        event_time TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        dedup_key TEXT,
        receipt_message_id TEXT,
        provider_id TEXT,
        esito TEXT,
        detail TEXT,
        smtp_code INTEGER,
        retry_count INTEGER,
        signature TEXT,
        recipient TEXT,
        archive_path TEXT
    );
    CREATE INDEX events_attempt ON events(attempt_pk);
    CREATE UNIQUE INDEX events_dedup ON events(dedup_key) WHERE dedup_key IS NOT NULL;
    CREATE INDEX events_provider_id ON events(provider_id) WHERE provider_id IS NOT NULL;
    CREATE TABLE sync_state (
        folder TEXT PRIMARY KEY,
        uidvalidity INTEGER NOT NULL,
        last_uid INTEGER NOT NULL,
        synced_at TEXT NOT NULL
    )
    """,
    # version 2: re-adoption of an identical PEC handed over by another row or campaign (issue 10)
    """
    ALTER TABLE attempts ADD COLUMN adopted_from TEXT
    """,
)


class AttemptPending(RuntimeError):
    """A new attempt was asked for a row whose latest attempt is still `In invio` (a bug upstream:
    in-doubt attempts must be resolved first, or the PEC could leave twice)."""


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    campaign_id: str
    created_at: datetime
    mailbox: str | None
    sender_domain: str | None
    workbook_path: str | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One hand-over (or try) of a row's message; a test send has `row_id` None and kind `test`."""

    pk: int
    row_id: str | None
    kind: str
    number: int
    message_id: str
    content_hash: str
    recipient: str
    committed_at: datetime
    eml_path: str | None = None
    source_row: int | None = None
    adopted_from: str | None = None
    """The Message-ID of an identical PEC handed over earlier, which this attempt stands for (it
    was never handed over itself). Equal to `message_id` when that PEC belongs to another campaign
    (its receipts are then followed here); another attempt of this journal otherwise."""

    @property
    def adopts_in_journal(self) -> bool:
        """Re-adopts another attempt of this journal: its status is that attempt's."""
        return self.adopted_from is not None and self.adopted_from != self.message_id

    @property
    def is_test(self) -> bool:
        return self.kind == KIND_TEST

    @property
    def label(self) -> str:
        """`P3` for the third test send, else the attempt number as text."""
        return f"P{self.number}" if self.is_test else str(self.number)


@dataclass(frozen=True, slots=True)
class RowView:
    """A row as the result columns show it: its latest attempt's derived status."""

    row_id: str
    row_number: int | None
    recipient: str | None
    attempt: Attempt | None
    attempt_count: int
    status: DerivedStatus

    def result_columns(self) -> dict[str, object]:
        """Values by exact result-column header (dates aware, UTC: `core.rome_time.rome_wall_clock` for cells).

        `Ricevute` is not here: it is a link to the archive folder, which the workbook knows.
        """
        s = self.status
        return {
            COL_ID: self.row_id,
            COL_STATUS: s.stato,
            COL_SENT_AT: s.inviata_il,
            COL_ACCEPTED_AT: s.accettata_il,
            COL_DELIVERED_AT: s.consegnata_il,
            COL_OUTCOME: s.esito,
            COL_DETAIL: s.dettaglio,
            COL_SIGNATURE: s.firma,
        }


@dataclass(frozen=True, slots=True)
class TrialAttemptView:
    attempt: Attempt
    status: DerivedStatus


@dataclass(frozen=True, slots=True)
class SyncState:
    """How far a receipts folder has been read (valid only while UIDVALIDITY is unchanged)."""

    folder: str
    uidvalidity: int
    last_uid: int
    synced_at: datetime


def journal_path(campaign_id: str, directory: Path | None = None) -> Path:
    if not ids.is_campaign_id(campaign_id):
        raise ValueError(f"invalid campaign id {campaign_id!r}")
    return Path(directory if directory is not None else paths.journals_dir()) / f"{campaign_id}.sqlite"


def _normalise_message_id(value: str) -> str:
    text = value.strip()
    if not text.startswith("<"):
        text = f"<{text}>"
    return text


def _attempt_from_row(row) -> Attempt:
    return Attempt(
        pk=row["attempt_pk"],
        row_id=row["row_id"],
        kind=row["kind"],
        number=row["number"],
        message_id=row["message_id"],
        content_hash=row["content_hash"],
        recipient=row["recipient"],
        committed_at=from_db_time(row["committed_at"]),
        eml_path=row["eml_path"],
        source_row=row["source_row"],
        adopted_from=row["adopted_from"],
    )


_EVENT_COLUMNS = (
    "e.kind, e.event_time, e.esito, e.detail, e.smtp_code, e.retry_count, "
    "COALESCE(e.receipt_message_id, e.dedup_key), e.provider_id, e.signature, e.recipient, e.archive_path, "
    "e.event_pk, e.attempt_pk"
)
"""Columns in `Event` field order (the dedup key stands in for a missing receipt Message-ID, so the
derivation dedupes those too), then the attempt key."""

_from_iso = datetime.fromisoformat


def _event_from_row(row) -> Event:
    return Event(row[0], _from_iso(row[1]), *row[2:12])


_ATTEMPT_COLUMNS = (
    "a.attempt_pk, a.row_id, a.kind, a.number, a.message_id, a.content_hash, a.recipient, "
    "a.source_row, a.eml_path, a.committed_at, a.adopted_from"
)
_LATEST_NORMAL = (
    "a.kind = 'normal' AND a.number = "
    "(SELECT MAX(b.number) FROM attempts b WHERE b.row_id = a.row_id AND b.kind = 'normal')"
)
_LATEST_CTE = (
    "WITH latest AS (SELECT row_id, MAX(number) AS number, COUNT(*) AS attempt_count "
    "FROM attempts WHERE kind = 'normal' GROUP BY row_id) "
)


class Journal:
    """A campaign's journal. Open with `Journal.for_campaign(id)` or an explicit path."""

    def __init__(self, path: Path | str, campaign_id: str | None = None) -> None:
        path = Path(path)
        if campaign_id is None and ids.is_campaign_id(path.stem):
            campaign_id = path.stem
        self._db = Database(path, _MIGRATIONS, what="il registro della campagna")
        try:
            self._campaign_id = self._init_campaign(campaign_id)
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def for_campaign(cls, campaign_id: str, directory: Path | None = None) -> Journal:
        return cls(journal_path(campaign_id, directory), campaign_id)

    def _init_campaign(self, campaign_id: str | None) -> str:
        row = self._db.read_one("SELECT campaign_id FROM campaign")
        if row is None:
            if campaign_id is None or not ids.is_campaign_id(campaign_id):
                raise ValueError("a new journal needs a valid campaign id")
            # Forced to disk: the file's identity (which campaign) precedes every attempt in it.
            with self._db.transaction(durable=True) as c:
                c.execute(
                    "INSERT OR IGNORE INTO campaign (singleton, campaign_id, created_at) VALUES (1, ?, ?)",
                    (campaign_id, to_db_time(utc_now())),
                )
            row = self._db.read_one("SELECT campaign_id FROM campaign")
        stored = row["campaign_id"]
        if campaign_id is not None and stored != campaign_id:
            raise CannotRun(
                f"Il registro {self.path} appartiene a un'altra campagna ({stored}, non {campaign_id})"
            )
        return stored

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self._db.path

    @property
    def campaign_id(self) -> str:
        return self._campaign_id

    @property
    def set_aside(self) -> Path | None:
        """Where a damaged journal file was moved when this one was started afresh."""
        return self._db.set_aside

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def batch(self, *, durable: bool = False) -> Iterator[None]:
        """Group several writes into one transaction (e.g. a folder's receipts and its sync cursor)."""
        with self._db.transaction(durable=durable):
            yield

    def checkpoint(self) -> None:
        self._db.checkpoint()

    # --- campaign and meta ----------------------------------------------------------------------
    def campaign_info(self) -> CampaignInfo:
        row = self._db.read_one("SELECT * FROM campaign")
        return CampaignInfo(
            campaign_id=row["campaign_id"],
            created_at=from_db_time(row["created_at"]),
            mailbox=row["mailbox"],
            sender_domain=row["sender_domain"],
            workbook_path=row["workbook_path"],
        )

    def set_campaign_info(
        self, *, mailbox: str | None = None, sender_domain: str | None = None, workbook_path: str | None = None
    ) -> None:
        """Remember the sender and where the workbook was last seen (None leaves a field unchanged)."""
        with self._db.transaction() as c:
            c.execute(
                "UPDATE campaign SET mailbox = COALESCE(?, mailbox), "
                "sender_domain = COALESCE(?, sender_domain), workbook_path = COALESCE(?, workbook_path)",
                (mailbox, sender_domain, workbook_path),
            )

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.read_one("SELECT value FROM meta WHERE key = ?", (key,))
        return default if row is None else row["value"]

    def set_meta(self, key: str, value: str | None) -> None:
        """Small shared flags (a worker's pid, a stop request); None deletes the key."""
        with self._db.transaction() as c:
            if value is None:
                c.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                c.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    # --- rows -----------------------------------------------------------------------------------
    def row_ids(self) -> list[str]:
        return [r["row_id"] for r in self._db.read("SELECT row_id FROM rows ORDER BY rowid")]

    def has_row(self, row_id: str) -> bool:
        return self._db.read_one("SELECT 1 FROM rows WHERE row_id = ?", (row_id,)) is not None

    def new_row_id(self, taken: Iterable[str] = ()) -> str:
        """Mint an `ID invio` unused in this journal and in `taken` (the ids in the sheet)."""
        return self.new_row_ids(1, taken)[0]

    def new_row_ids(self, count: int, taken: Iterable[str] = ()) -> list[str]:
        """Mint `count` distinct `ID invio`s unused in this journal and in `taken`."""
        used = set(taken)
        minted: list[str] = []
        while len(minted) < count:
            candidate = ids.new_row_id(used)
            used.add(candidate)
            if not self.has_row(candidate):
                minted.append(candidate)
        return minted

    def add_row(self, row_id: str, *, recipient: str | None = None, row_number: int | None = None) -> None:
        self.add_rows([(row_id, recipient, row_number)])

    def add_rows(self, rows: Iterable[tuple[str, str | None, int | None]]) -> None:
        """Register frozen rows (id, recipient, sheet row); known ids get recipient/row refreshed."""
        now = to_db_time(utc_now())
        items = []
        for row_id, recipient, row_number in rows:
            if not ids.is_row_id(row_id):
                raise ValueError(f"invalid row id {row_id!r}")
            items.append((row_id, recipient, row_number, now))
        with self._db.transaction() as c:
            c.executemany(
                "INSERT INTO rows (row_id, recipient, row_number, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(row_id) DO UPDATE SET recipient = COALESCE(excluded.recipient, recipient), "
                "row_number = COALESCE(excluded.row_number, row_number)",
                items,
            )

    def set_row_numbers(self, numbers: Mapping[str, int | None]) -> None:
        """Where each row sits in the sheet now (a hint for messages; sorting never changes a key)."""
        with self._db.transaction() as c:
            c.executemany(
                "UPDATE rows SET row_number = ? WHERE row_id = ?",
                [(number, row_id) for row_id, number in numbers.items()],
            )

    # --- attempts -------------------------------------------------------------------------------
    def begin_attempt(
        self,
        row_id: str,
        *,
        content_hash: str,
        recipient: str,
        domain: str,
        eml_path: str | None = None,
        when: datetime | None = None,
    ) -> Attempt:
        """Commit a new attempt (Message-ID, content hash) durably, before the SMTP hand-over.

        Records the `in-invio` event in the same transaction. Refuses (AttemptPending) if the row's
        latest attempt is still unresolved.
        """
        if not ids.is_row_id(row_id):
            raise ValueError(f"invalid row id {row_id!r}")
        committed = to_db_time(when or utc_now())
        # Forced to disk: the attempt precedes the hand-over; lost, a PEC that left would be resent.
        with self._db.transaction(durable=True) as c:
            c.execute(
                "INSERT INTO rows (row_id, recipient, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(row_id) DO NOTHING",
                (row_id, recipient, committed),
            )
            latest = c.execute(
                f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a WHERE a.row_id = ? AND {_LATEST_NORMAL}",
                (row_id,),
            ).fetchone()
            number = 1
            if latest is not None:
                previous = _attempt_from_row(latest)
                if self._derive(c, previous).stato == ST_SENDING:
                    raise AttemptPending(f"attempt {previous.message_id} is still unresolved")
                number = previous.number + 1
            message_id = ids.build_message_id(self._campaign_id, row_id, number, domain)
            return self._insert_attempt(
                c, row_id, KIND_NORMAL, number, message_id, content_hash, recipient, None, eml_path, committed
            )

    def adopt_attempt(
        self,
        row_id: str,
        *,
        earlier_message_id: str,
        content_hash: str,
        recipient: str,
        domain: str,
        handed_over: bool,
        note: str,
        when: datetime | None = None,
    ) -> Attempt:
        """Record that this row's PEC is an identical one handed over earlier (the ledger refused a
        second hand-over): an attempt that stands for it, never handed over itself.

        When the earlier PEC belongs to another campaign, the attempt takes its Message-ID, so
        the receipts quoting it are followed here too; `handed_over` (its SMTP answer was 250) adds
        the `Inviato` event, else it stays `In invio` and is resolved by searching its receipts. When
        it belongs to another row of this journal, the attempt gets its own (never used) Message-ID
        and shows that row's status. `note` says so in `Dettaglio` (forced to disk: it replaces a
        hand-over, and must not vanish into a resend after a power cut).
        """
        committed = to_db_time(when or utc_now())
        earlier_message_id = _normalise_message_id(earlier_message_id)
        # Forced to disk: it replaces a hand-over; lost, the row would read as never sent.
        with self._db.transaction(durable=True) as c:
            c.execute(
                "INSERT INTO rows (row_id, recipient, created_at) VALUES (?, ?, ?) ON CONFLICT(row_id) DO NOTHING",
                (row_id, recipient, committed),
            )
            latest = c.execute(
                f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a WHERE a.row_id = ? AND {_LATEST_NORMAL}", (row_id,)
            ).fetchone()
            number = 1 if latest is None else latest["number"] + 1
            in_journal = c.execute("SELECT 1 FROM attempts WHERE message_id = ?", (earlier_message_id,)).fetchone()
            message_id = ids.build_message_id(self._campaign_id, row_id, number, domain) if in_journal else earlier_message_id
            attempt = self._insert_attempt(
                c, row_id, KIND_NORMAL, number, message_id, content_hash, recipient, None, None, committed
            )
            c.execute("UPDATE attempts SET adopted_from = ? WHERE attempt_pk = ?", (earlier_message_id, attempt.pk))
            c.execute("UPDATE events SET detail = ? WHERE attempt_pk = ?", (note, attempt.pk))
            if handed_over and not in_journal:
                c.execute(
                    "INSERT INTO events (attempt_pk, kind, event_time, recorded_at, detail) VALUES (?, ?, ?, ?, ?)",
                    (attempt.pk, EventKind.SMTP_INVIATO, committed, committed, note),
                )
        return self.attempt_by_message_id(message_id)

    def restore_attempt(
        self,
        row_id: str,
        *,
        message_id: str,
        content_hash: str,
        recipient: str,
        committed_at: datetime,
        events: Iterable[tuple[str, str | None]] = (),
    ) -> Attempt:
        """Put back an attempt of a lost journal (from the ledger or the mailbox): its Message-ID
        and number as they were, its `In invio` event, then `events` (kind, detail). Forced to disk:
        it stands for a PEC that left or may have left, and must stop a resend even after a power cut."""
        parsed = ids.parse_message_id(message_id)
        if parsed is None or parsed.row_id != row_id or parsed.campaign_id != self._campaign_id:
            raise ValueError("not a Message-ID of this row of this campaign")
        committed = to_db_time(committed_at)
        # Forced to disk: it stands for a PEC that left or may have left.
        with self._db.transaction(durable=True) as c:
            c.execute(
                "INSERT INTO rows (row_id, recipient, created_at) VALUES (?, ?, ?) ON CONFLICT(row_id) DO NOTHING",
                (row_id, recipient, committed),
            )
            found = c.execute(f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a WHERE a.message_id = ?",
                              (parsed.message_id,)).fetchone()
            if found is not None:
                return _attempt_from_row(found)
            attempt = self._insert_attempt(c, row_id, KIND_NORMAL, parsed.attempt, parsed.message_id, content_hash,
                                           recipient, None, None, committed)
            for kind, detail in events:
                c.execute(
                    "INSERT INTO events (attempt_pk, kind, event_time, recorded_at, detail) VALUES (?, ?, ?, ?, ?)",
                    (attempt.pk, kind, committed, to_db_time(utc_now()), detail),
                )
        return attempt

    def next_message_id(self, row_id: str, domain: str) -> str:
        """The Message-ID `begin_attempt` will give the row's next attempt (the sender is the
        campaign's only writer: it holds the campaign lock)."""
        latest = self.latest_attempt(row_id)
        return ids.build_message_id(self._campaign_id, row_id, 1 if latest is None else latest.number + 1, domain)

    def begin_test_attempt(
        self,
        *,
        content_hash: str,
        recipient: str,
        domain: str,
        source_row: int | None = None,
        eml_path: str | None = None,
        when: datetime | None = None,
    ) -> Attempt:
        """Commit a test send `P{n}` (not tied to a row: it never freezes or changes a row)."""
        committed = to_db_time(when or utc_now())
        # Forced to disk: as a row's attempt, it precedes the hand-over of the test PEC.
        with self._db.transaction(durable=True) as c:
            number = c.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM attempts WHERE kind = 'test'"
            ).fetchone()[0]
            message_id = ids.build_test_message_id(self._campaign_id, number, domain)
            return self._insert_attempt(
                c, None, KIND_TEST, number, message_id, content_hash, recipient, source_row, eml_path, committed
            )

    def _insert_attempt(
        self, c, row_id, kind, number, message_id, content_hash, recipient, source_row, eml_path, committed
    ) -> Attempt:
        cursor = c.execute(
            "INSERT INTO attempts (row_id, kind, number, message_id, content_hash, recipient, source_row, "
            "eml_path, committed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row_id, kind, number, message_id, content_hash, recipient, source_row, eml_path, committed),
        )
        pk = cursor.lastrowid
        c.execute(
            "INSERT INTO events (attempt_pk, kind, event_time, recorded_at) VALUES (?, ?, ?, ?)",
            (pk, EventKind.IN_INVIO, committed, committed),
        )
        return Attempt(
            pk=pk, row_id=row_id, kind=kind, number=number, message_id=message_id,
            content_hash=content_hash, recipient=recipient, committed_at=from_db_time(committed),
            eml_path=eml_path, source_row=source_row,
        )

    def set_eml_path(self, attempt: Attempt | str, eml_path: str) -> None:
        """Record where the exact `.eml` was archived. Forced to disk (durable): it precedes the
        hand-over, and the in-doubt resolution relies on it to find the evidence after a power cut."""
        pk = self._attempt_pk(attempt)
        # Forced to disk: see the docstring (the evidence the in-doubt resolution looks for).
        with self._db.transaction(durable=True) as c:
            c.execute("UPDATE attempts SET eml_path = ? WHERE attempt_pk = ?", (eml_path, pk))

    def attempt_by_message_id(self, message_id: str) -> Attempt | None:
        """The attempt a receipt quotes (exact, else by the canonical form of a pecmass Message-ID)."""
        candidates = [_normalise_message_id(message_id)]
        parsed = ids.parse_message_id(message_id)
        if parsed is not None and parsed.campaign_id == self._campaign_id:
            candidates.append(parsed.message_id)
        for candidate in candidates:
            row = self._db.read_one(
                f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a WHERE a.message_id = ?", (candidate,)
            )
            if row is not None:
                return _attempt_from_row(row)
        return None

    def attempt_by_provider_id(self, provider_id: str) -> Attempt | None:
        """The attempt whose receipts carried this provider `identificativo` (to match a bounce)."""
        row = self._db.read_one(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a JOIN events e ON e.attempt_pk = a.attempt_pk "
            "WHERE e.provider_id = ? ORDER BY e.event_pk LIMIT 1",
            (provider_id.strip(),),
        )
        return None if row is None else _attempt_from_row(row)

    def attempts_for_row(self, row_id: str) -> list[Attempt]:
        rows = self._db.read(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a WHERE a.row_id = ? AND a.kind = 'normal' "
            "ORDER BY a.number",
            (row_id,),
        )
        return [_attempt_from_row(r) for r in rows]

    def latest_attempt(self, row_id: str) -> Attempt | None:
        row = self._db.read_one(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a WHERE a.row_id = ? AND {_LATEST_NORMAL}", (row_id,)
        )
        return None if row is None else _attempt_from_row(row)

    def message_ids(self) -> set[str]:
        """Every Message-ID of this campaign (the receipts sync matches quoted ids against it)."""
        return {r["message_id"] for r in self._db.read("SELECT message_id FROM attempts")}

    def _attempt_pk(self, attempt: Attempt | str) -> int:
        if isinstance(attempt, Attempt):
            return attempt.pk
        found = self.attempt_by_message_id(attempt)
        if found is None:
            raise KeyError("no attempt with that Message-ID in this journal")
        return found.pk

    # --- events ---------------------------------------------------------------------------------
    def add_event(
        self,
        attempt: Attempt | str,
        kind: str,
        *,
        event_time: datetime | None = None,
        esito: str | None = None,
        detail: str | None = None,
        smtp_code: int | None = None,
        retry_count: int | None = None,
        receipt_message_id: str | None = None,
        provider_id: str | None = None,
        signature: str | None = None,
        recipient: str | None = None,
        archive_path: str | None = None,
        identity: str | None = None,
    ) -> bool:
        """Append an event to an attempt (given as Attempt or Message-ID). False if a duplicate receipt.

        Receipts are deduplicated by `identity` when given (what the provider signed, issue 12), else
        by their own Message-ID; without one, by a key made of kind, time, provider id and detail.
        SMTP events are never deduplicated.
        """
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        if signature is not None and signature not in FIRME:
            raise ValueError(f"unknown signature status {signature!r}")
        pk = self._attempt_pk(attempt)
        now = utc_now()
        when = to_db_time(event_time or now)
        dedup_key = None
        if receipt_message_id is not None:
            receipt_message_id = _normalise_message_id(receipt_message_id)
        if kind in RECEIPT_KINDS:
            if identity is not None:
                dedup_key = f"id:{identity}"
            elif receipt_message_id is not None:
                dedup_key = f"mid:{receipt_message_id}"
            else:
                basis = "\x00".join([kind, when, provider_id or "", detail or "", str(pk)])
                dedup_key = "synthetic:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()
        with self._db.transaction() as c:
            cursor = c.execute(
                "INSERT INTO events (attempt_pk, kind, event_time, recorded_at, dedup_key, receipt_message_id, "
                "provider_id, esito, detail, smtp_code, retry_count, signature, recipient, archive_path) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    pk, kind, when, to_db_time(now), dedup_key, receipt_message_id,
                    provider_id.strip() if provider_id else None, esito, detail, smtp_code, retry_count,
                    signature, recipient, archive_path,
                ),
            )
            return cursor.rowcount == 1

    def has_receipt(self, receipt_message_id: str) -> bool:
        """Whether this receipt is already recorded (lets the sync skip fetching it again)."""
        key = f"mid:{_normalise_message_id(receipt_message_id)}"
        return self._db.read_one("SELECT 1 FROM events WHERE dedup_key = ?", (key,)) is not None

    def has_receipt_identity(self, identity: str) -> bool:
        """Whether a receipt with this identity (see `add_event`) is already recorded."""
        return self._db.read_one("SELECT 1 FROM events WHERE dedup_key = ?", (f"id:{identity}",)) is not None

    def settled_receipt_message_ids(self) -> set[str]:
        """Top-level Message-IDs of the verified receipts and bounces already recorded: the sync need
        not download them again. (Unverified ones are not here: a forgery carrying the Message-ID
        of a genuine receipt to come must never make the sync skip that receipt.)"""
        rows = self._db.read(
            "SELECT DISTINCT receipt_message_id FROM events WHERE receipt_message_id IS NOT NULL "
            "AND (signature = ? OR kind = ?)", (FIRMA_VERIFICATA, EventKind.ANOMALIA))
        return {r[0] for r in rows}

    def events(self, attempt: Attempt | str) -> list[Event]:
        pk = self._attempt_pk(attempt)
        rows = self._db.read(f"SELECT {_EVENT_COLUMNS} FROM events e WHERE e.attempt_pk = ? ORDER BY e.event_pk", (pk,))
        return [_event_from_row(r) for r in rows]

    # --- derived status -------------------------------------------------------------------------
    def _derive(self, c, attempt: Attempt) -> DerivedStatus:
        rows = c.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events e WHERE e.attempt_pk = ? ORDER BY e.event_pk", (attempt.pk,)
        ).fetchall()
        return derive_status([_event_from_row(r) for r in rows], committed_at=attempt.committed_at)

    def attempt_status(self, attempt: Attempt | str) -> DerivedStatus:
        if not isinstance(attempt, Attempt):
            found = self.attempt_by_message_id(attempt)
            if found is None:
                raise KeyError("no attempt with that Message-ID in this journal")
            attempt = found
        return derive_status(self.events(attempt), committed_at=attempt.committed_at)

    def row_view(self, row_id: str) -> RowView | None:
        views = self.row_views([row_id])
        return views.get(row_id)

    def row_views(self, row_ids: Iterable[str] | None = None) -> dict[str, RowView]:
        """Every row's view (or those of `row_ids` that the journal knows), in sheet-independent order.

        Two queries for the whole campaign; events are streamed attempt by attempt, so memory holds
        the views, not the events (linear in rows, see the README's figures).
        """
        wanted = None if row_ids is None else set(row_ids)
        latest: dict[str, tuple] = {}
        order: list[tuple[str, str | None, int | None]] = []
        statuses: dict[int, DerivedStatus] = {}
        with self._db.snapshot() as conn:
            for r in conn.execute(
                _LATEST_CTE
                + "SELECT r.row_id, r.recipient AS row_recipient, r.row_number, l.attempt_count, "
                + _ATTEMPT_COLUMNS
                + " FROM rows r LEFT JOIN latest l ON l.row_id = r.row_id "
                "LEFT JOIN attempts a ON a.row_id = l.row_id AND a.number = l.number AND a.kind = 'normal' "
                "ORDER BY r.rowid"
            ):
                row_id = r["row_id"]
                if wanted is not None and row_id not in wanted:
                    continue
                order.append((row_id, r["row_recipient"], r["row_number"]))
                if r["attempt_pk"] is not None:
                    latest[row_id] = (_attempt_from_row(r), r["attempt_count"])
            committed = {attempt.pk: attempt.committed_at for attempt, _ in latest.values()}
            # Events streamed attempt by attempt (only the latest attempts), in insertion order.
            cursor = conn.execute(
                _LATEST_CTE
                + f"SELECT {_EVENT_COLUMNS} FROM latest l "
                "JOIN attempts a ON a.row_id = l.row_id AND a.number = l.number AND a.kind = 'normal' "
                "JOIN events e ON e.attempt_pk = a.attempt_pk ORDER BY e.attempt_pk, e.event_pk"
            )
            for pk, group in groupby(cursor, key=lambda row: row[12]):
                if pk in committed:
                    statuses[pk] = derive_status(map(_event_from_row, group), committed_at=committed[pk])
        views: dict[str, RowView] = {}
        for row_id, recipient, row_number in order:
            attempt, count = latest.get(row_id, (None, 0))
            if attempt is None:
                status = DerivedStatus(stato=ST_TO_SEND)
            else:
                status = statuses.get(attempt.pk) or derive_status([], committed_at=attempt.committed_at)
                if attempt.adopted_from is not None:
                    status = self._adopted_status(attempt, status)
            views[row_id] = RowView(row_id, row_number, recipient, attempt, count, status)
        return views

    def _adopted_status(self, attempt: Attempt, own: DerivedStatus) -> DerivedStatus:
        """A re-adopted PEC's status (another row's, when it is in this journal); `Dettaglio` says it
        is an identical PEC sent earlier, then keeps the provider's words."""
        status = own
        if attempt.adopts_in_journal:
            source = self.attempt_by_message_id(attempt.adopted_from)
            if source is not None:
                status = self.attempt_status(source)
        row = self._db.read_one(
            "SELECT detail FROM events WHERE attempt_pk = ? AND kind = ? ORDER BY event_pk LIMIT 1",
            (attempt.pk, EventKind.IN_INVIO),
        )
        note = (row["detail"] if row else None) or ""
        words = status.dettaglio or ""
        if note and words and words != note:
            return replace(status, dettaglio=f"{note} Gestore: {words}")
        return replace(status, dettaglio=note or words)

    def status_counts(self) -> dict[str, int]:
        """Rows per `Stato invio` (rows known to the journal; test sends excluded)."""
        return dict(Counter(view.status.stato for view in self.row_views().values()))

    def rows_to_send(self, row_ids: Iterable[str], resend: Iterable[str] = ()) -> list[str]:
        """Which of the checked rows `send` must send now (DESIGN §5.3), in the given order.

        Due: rows unknown to the journal or without an attempt, rows whose latest attempt ended
        without a hand-over (`Da inviare`), and the `--resend` groups: `failed`, `uncertain`, `sent`.
        Rows still `In invio` are never due: resolve them first (`attempts_in_doubt`).
        """
        groups = set(resend)
        unknown = groups - RESEND_CHOICES
        if unknown:
            raise ValueError(f"unknown resend group(s): {sorted(unknown)}")
        extra: set[str] = set()
        if RESEND_FAILED in groups:
            extra |= FAILED_STATUSES
        if RESEND_UNCERTAIN in groups:
            extra |= UNCERTAIN_STATUSES
        if RESEND_SENT in groups:
            extra |= HANDED_OVER_STATUSES
        ordered = list(dict.fromkeys(row_ids))
        views = self.row_views(ordered)
        due = []
        for row_id in ordered:
            view = views.get(row_id)
            if view is None or view.attempt is None or view.status.stato == ST_TO_SEND or view.status.stato in extra:
                due.append(row_id)
        return due

    def attempts_in_doubt(self, *, include_tests: bool = False) -> list[Attempt]:
        """Latest attempts still `In invio`: committed, maybe handed over, no answer recorded.

        After a crash these are resolved first (search for their receipts, else `incerto`).
        """
        pending = [
            view.attempt
            for view in self.row_views().values()
            if view.attempt is not None and view.status.stato == ST_SENDING and not view.attempt.adopts_in_journal
        ]
        if include_tests:
            pending += [t.attempt for t in self.test_attempts() if t.status.stato == ST_SENDING]
        return sorted(pending, key=lambda a: (a.committed_at, a.pk))

    def test_attempts(self) -> list[TrialAttemptView]:
        rows = self._db.read(f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a WHERE a.kind = 'test' ORDER BY a.number")
        return [
            TrialAttemptView(attempt=a, status=self.attempt_status(a)) for a in map(_attempt_from_row, rows)
        ]

    # --- receipts sync state --------------------------------------------------------------------
    def sync_state(self, folder: str) -> SyncState | None:
        row = self._db.read_one("SELECT * FROM sync_state WHERE folder = ?", (folder,))
        if row is None:
            return None
        return SyncState(row["folder"], row["uidvalidity"], row["last_uid"], from_db_time(row["synced_at"]))

    def sync_states(self) -> list[SyncState]:
        return [
            SyncState(r["folder"], r["uidvalidity"], r["last_uid"], from_db_time(r["synced_at"]))
            for r in self._db.read("SELECT * FROM sync_state ORDER BY folder")
        ]

    def set_sync_state(self, folder: str, uidvalidity: int, last_uid: int) -> None:
        """Record how far `folder` was read; write it in the same `batch()` as the folder's events."""
        with self._db.transaction() as c:
            c.execute(
                "INSERT INTO sync_state (folder, uidvalidity, last_uid, synced_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, "
                "last_uid = excluded.last_uid, synced_at = excluded.synced_at",
                (folder, int(uidvalidity), int(last_uid), to_db_time(utc_now())),
            )

    def last_sync(self) -> datetime | None:
        row = self._db.read_one("SELECT MAX(synced_at) AS t FROM sync_state")
        return None if row is None else from_db_time(row["t"])
