"""SQLite plumbing shared by the journal, the ledger, the usage counter and the pacer.

Every database here is a local file in WAL mode, opened in autocommit mode with explicit short
`BEGIN IMMEDIATE` transactions: a write transaction takes the write lock at once, so two processes
(the sending worker and a receipts sync) wait for each other through `busy_timeout` instead of
failing with SQLITE_BUSY halfway through.

Durability (reasoned out once, here). With WAL, `synchronous=NORMAL` fsyncs only at checkpoints:
a commit survives a process crash (SIGKILL) but may be lost on power loss or an OS crash; WAL keeps
a prefix of commits, never a torn one. `synchronous=FULL` fsyncs the WAL at every commit, which also
makes every earlier commit durable. So:
- commits that must precede a hand-over to SMTP (an attempt, a ledger entry) use `durable=True`,
  which switches that one commit to FULL;
- every other commit (SMTP answers, receipts, sync cursors) uses NORMAL. Losing one of those to a
  power cut is safe: a lost SMTP answer leaves the attempt in doubt (resolved by searching for its
  receipts, never resent), and a lost receipt is lost together with the sync cursor written in the
  same or a later transaction, so it is read again.
Every forced write, and why (issue 10: durable before it matters):
- `Journal.begin_attempt`: the attempt and its Message-ID precede the hand-over; lost, a PEC that
  left would have no attempt, and the row would be sent again.
- `Journal.set_eml_path`: the evidence of what left, found by the in-doubt resolution after a crash.
  (A missing path or file is still read as "in doubt", never as "not sent".)
- `Ledger.claim_handover`: the hand-over guard's intent record precedes the hand-over; lost, a copy
  of the workbook or a lost journal could send the identical PEC again.
- `Journal.adopt_attempt`, `Journal.restore_attempt`: they stand for a PEC that left or may have
  left (a re-adoption, a rebuilt journal); lost, the row would read as never sent.
- the campaign row of a new journal and the migrations: the file's identity and schema.
- outside SQLite, `archive.store` fsyncs the `.eml` and its folder (and every folder it created)
  before the journal points at it.
`fullfsync` makes FULL mean what it says on macOS (a plain fsync does not flush the disk cache
there); other platforms ignore it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.paths import not_writable_message, private_file

log = logging.getLogger("pecmass.db")

BUSY_TIMEOUT_SECONDS = 60.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_db_time(moment: datetime) -> str:
    """Aware datetime → fixed-width UTC ISO text (sorts as text in the same order as in time)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: pass an aware datetime (UTC or with the receipt's offset)")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class Database:
    """One connection to one SQLite file, safe to share between the threads of one process."""

    def __init__(self, path: Path, migrations: Sequence[str], *, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self.set_aside: Path | None = None
        """Where a damaged file was moved before this one was started afresh (None if it was fine)."""
        self._lock = threading.RLock()
        self._depth = 0
        self._durable = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            private_file(self.path)  # journals and ledgers hold recipients' addresses: 0600, and so -wal, -shm
            self._open(migrations, what)
        except sqlite3.DatabaseError as exc:
            if _error_code(exc) in _READ_ONLY_CODES:
                raise CannotRun(not_writable_message(self.path, what)) from None
            if _error_code(exc) not in _DAMAGED_CODES:
                raise
            # Never deleted: renamed with a timestamp (the way back), logged, and rebuilt by the
            # caller from the ledger or the mailbox (tracking.recover).
            self.set_aside = _set_aside(self.path)
            log.warning("damaged database set aside and started afresh: %s", self.set_aside.name)
            private_file(self.path)
            self._open(migrations, what)
        except PermissionError as exc:
            raise CannotRun(not_writable_message(Path(exc.filename or self.path), what, exc)) from None

    def _open(self, migrations: Sequence[str], what: str) -> None:
        self._conn = sqlite3.connect(
            str(self.path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise CannotRun(f"Impossibile aprire {what} in modalità WAL: {self.path}")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA fullfsync = ON")
            self._conn.execute("PRAGMA checkpoint_fullfsync = ON")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a damaged file fails here
            self._migrate(migrations, what)
        except BaseException:
            self._conn.close()
            raise

    def _migrate(self, migrations: Sequence[str], what: str) -> None:
        target = len(migrations)
        current = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if current > target:
            raise CannotRun(
                f"{what.capitalize()} è stato creato da una versione più recente di pecmass: "
                f"aggiornare pecmass ({self.path})"
            )
        if current == target:
            return
        # Forced to disk: a schema change half-known after a power cut would misread every row.
        with self.transaction(durable=True):
            # Re-read inside the write lock: another process may have migrated meanwhile.
            current = self._conn.execute("PRAGMA user_version").fetchone()[0]
            for version in range(current, target):
                for statement in _split_statements(migrations[version]):
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A short write transaction; nested calls join the outer one.

        SQLite fixes the safety level when a transaction begins, so a durable write cannot join a
        non-durable outer transaction: that is refused (open the outer one with `durable=True`).
        """
        with self._lock:
            if self._depth:
                if durable and not self._durable:
                    raise RuntimeError("a durable write cannot join a non-durable transaction")
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            if durable:
                self._conn.execute("PRAGMA synchronous = FULL")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._depth, self._durable = 1, durable
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            finally:
                self._depth, self._durable = 0, False
                if durable:
                    self._conn.execute("PRAGMA synchronous = NORMAL")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """Several reads that must see one consistent state (a WAL read transaction: writers in
        other processes go on meanwhile). Inside a write transaction, that transaction is the snapshot."""
        with self._lock:
            if self._depth:
                yield self._conn
                return
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    def read(self, sql: str, params: Sequence[object] | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def read_one(self, sql: str, params: Sequence[object] | dict = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def checkpoint(self) -> None:
        """Fold the WAL back into the main file (keeps the WAL small after a long send)."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


# SQLite result codes (primary code = low byte of the extended one).
_DAMAGED_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_READ_ONLY_CODES = {3, 8, 14}  # SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN


def _error_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def _set_aside(path: Path) -> Path:
    """Rename a damaged database (and its WAL and shared-memory files) with a timestamp."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.danneggiato-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            os.replace(part, target.with_name(target.name + suffix))
    return target


def _split_statements(script: str) -> list[str]:
    """Split a migration script into statements (our scripts hold no `;` inside literals)."""
    return [part.strip() for part in script.split(";") if part.strip()]
