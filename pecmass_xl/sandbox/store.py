"""The sandbox's persistent store: mailboxes, messages, and the provider's pending work.

One SQLite file in the sandbox folder, so that mailboxes, UIDs and UIDVALIDITY survive restarts
(an IMAP client that resumes by UID must find the same numbers) and so that receipts still due
(a 24-hour timeout notice, a slow delivery) are sent after a restart.

The store belongs to the sandbox's event-loop thread; other threads read through `read_mailbox`,
which opens its own connection (WAL mode lets readers and the writer work side by side).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STORE_FILE = "caselle.sqlite3"
INBOX = "INBOX"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mailboxes (
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL,
    name TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    next_uid INTEGER NOT NULL,
    subscribed INTEGER NOT NULL DEFAULT 1,
    UNIQUE (address, name)
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    mailbox_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    internal_date REAL NOT NULL,
    flags TEXT NOT NULL DEFAULT '',
    header_len INTEGER NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (mailbox_id, uid)
);
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY,
    info TEXT NOT NULL,
    postacert BLOB,
    envelope BLOB
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    due REAL NOT NULL,
    submission TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_submission ON events (submission);
"""


@dataclass(frozen=True)
class MailboxRow:
    id: int
    address: str
    name: str
    uidvalidity: int
    subscribed: bool


@dataclass(frozen=True)
class MessageMeta:
    uid: int
    internal_date: float
    flags: str  # space-separated IMAP flags, e.g. "\\Seen"
    size: int


@dataclass(frozen=True)
class PendingEvent:
    id: int
    due: float  # simulated POSIX time
    submission: str
    kind: str
    recipient: str


Listener = Callable[[int, MessageMeta], None]


def header_length(raw: bytes) -> int:
    """Bytes up to and including the blank line that ends the header (whole message if none)."""
    end = raw.find(b"\r\n\r\n")
    if end >= 0:
        return end + 4
    end = raw.find(b"\n\n")
    return end + 2 if end >= 0 else len(raw)


class Store:
    """All persistent state of one sandbox folder."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / STORE_FILE
        self._conn = _connect(self.path)
        self._conn.executescript(_SCHEMA)
        self._listeners: list[Listener] = []
        self._depth = 0
        self._pending_notifications: list[tuple[int, MessageMeta]] = []
        self._lock = threading.RLock()  # the loop thread owns the store; the lock guards stop() from another thread
        self._rows: dict[tuple[str, str], MailboxRow] = {}  # mailbox rows by (address, folder name)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def add_listener(self, listener: Listener) -> None:
        """Called with (mailbox id, message) after every committed append (the IMAP side listens)."""
        self._listeners.append(listener)

    # --- transactions ------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes into one commit; listeners hear of new messages after the commit."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                    self._pending_notifications.clear()
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")
                notifications, self._pending_notifications = self._pending_notifications, []
        if outer:
            for mailbox_id, meta in notifications:
                for listener in self._listeners:
                    listener(mailbox_id, meta)

    # --- meta --------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- mailboxes ---------------------------------------------------------------------------

    def mailbox(self, address: str, name: str = INBOX, create: bool = True) -> MailboxRow | None:
        address = address.lower()
        cached = self._rows.get((address, name))
        if cached is not None:
            return cached
        row = self._conn.execute(
            "SELECT id, address, name, uidvalidity, subscribed FROM mailboxes WHERE address = ? AND name = ?",
            (address, name),
        ).fetchone()
        if row is None and create:
            with self.transaction():
                self._conn.execute(
                    "INSERT INTO mailboxes (address, name, uidvalidity, next_uid) VALUES (?, ?, ?, 1)",
                    (address, name, _new_uidvalidity()),
                )
            return self.mailbox(address, name, create=False)
        if row is None:
            return None
        found = self._rows[(address, name)] = MailboxRow(row[0], row[1], row[2], row[3], bool(row[4]))
        return found

    def mailbox_by_id(self, mailbox_id: int) -> MailboxRow | None:
        row = self._conn.execute(
            "SELECT id, address, name, uidvalidity, subscribed FROM mailboxes WHERE id = ?", (mailbox_id,)
        ).fetchone()
        return MailboxRow(row[0], row[1], row[2], row[3], bool(row[4])) if row else None

    def folder_names(self, address: str) -> list[str]:
        rows = self._conn.execute("SELECT name FROM mailboxes WHERE address = ? ORDER BY name", (address.lower(),))
        return [name for (name,) in rows]

    def subscribed_names(self, address: str) -> list[str]:
        rows = self._conn.execute(
            "SELECT name FROM mailboxes WHERE address = ? AND subscribed ORDER BY name", (address.lower(),)
        )
        return [name for (name,) in rows]

    def set_subscribed(self, address: str, name: str, subscribed: bool) -> None:
        self._rows.clear()
        with self.transaction():
            self._conn.execute(
                "UPDATE mailboxes SET subscribed = ? WHERE address = ? AND name = ?", (int(subscribed), address.lower(), name)
            )

    def delete_mailbox(self, address: str, name: str) -> bool:
        row = self.mailbox(address, name, create=False)
        if row is None:
            return False
        self._rows.clear()
        with self.transaction():
            self._conn.execute("DELETE FROM messages WHERE mailbox_id = ?", (row.id,))
            self._conn.execute("DELETE FROM mailboxes WHERE id = ?", (row.id,))
        return True

    def rename_mailbox(self, address: str, before: str, after: str) -> None:
        """Renames a folder and its children; a new UIDVALIDITY marks the renamed folder as new."""
        address = address.lower()
        self._rows.clear()
        with self.transaction():
            rows = self._conn.execute(
                "SELECT id, name FROM mailboxes WHERE address = ? AND (name = ? OR substr(name, 1, ?) = ?)",
                (address, before, len(before) + 1, before + "/"),
            ).fetchall()
            for mailbox_id, name in rows:
                self._conn.execute(
                    "UPDATE mailboxes SET name = ?, uidvalidity = ? WHERE id = ?",
                    (after + name[len(before) :], _new_uidvalidity(), mailbox_id),
                )

    # --- messages ----------------------------------------------------------------------------

    def append(
        self, address: str, raw: bytes, *, name: str = INBOX, flags: str = "", internal_date: float | None = None
    ) -> tuple[int, int]:
        """Add a message to a mailbox (created on first use); returns (mailbox id, uid)."""
        box = self.mailbox(address, name)
        assert box is not None
        return box.id, self.append_to(box.id, raw, flags=flags, internal_date=internal_date)

    def append_to(self, mailbox_id: int, raw: bytes, *, flags: str = "", internal_date: float | None = None) -> int:
        when = time.time() if internal_date is None else internal_date
        with self.transaction():
            (uid,) = self._conn.execute("SELECT next_uid FROM mailboxes WHERE id = ?", (mailbox_id,)).fetchone()
            self._conn.execute("UPDATE mailboxes SET next_uid = ? WHERE id = ?", (uid + 1, mailbox_id))
            self._conn.execute(
                "INSERT INTO messages (mailbox_id, uid, internal_date, flags, header_len, size, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (mailbox_id, uid, when, flags, header_length(raw), len(raw), raw),
            )
            self._pending_notifications.append((mailbox_id, MessageMeta(uid, when, flags, len(raw))))
        return uid

    def next_uid(self, mailbox_id: int) -> int:
        (uid,) = self._conn.execute("SELECT next_uid FROM mailboxes WHERE id = ?", (mailbox_id,)).fetchone()
        return uid

    def messages_meta(self, mailbox_id: int) -> list[MessageMeta]:
        rows = self._conn.execute(
            "SELECT uid, internal_date, flags, size FROM messages WHERE mailbox_id = ? ORDER BY uid", (mailbox_id,)
        )
        return [MessageMeta(*row) for row in rows]

    def message_bytes(self, mailbox_id: int, uid: int, header_only: bool = False) -> bytes | None:
        column = "substr(data, 1, header_len)" if header_only else "data"
        row = self._conn.execute(
            f"SELECT {column} FROM messages WHERE mailbox_id = ? AND uid = ?", (mailbox_id, uid)
        ).fetchone()
        return bytes(row[0]) if row else None

    def set_flags(self, mailbox_id: int, uid: int, flags: str) -> None:
        with self.transaction():
            self._conn.execute("UPDATE messages SET flags = ? WHERE mailbox_id = ? AND uid = ?", (flags, mailbox_id, uid))

    def delete_messages(self, mailbox_id: int, uids: list[int]) -> None:
        with self.transaction():
            self._conn.executemany("DELETE FROM messages WHERE mailbox_id = ? AND uid = ?", [(mailbox_id, uid) for uid in uids])

    # --- the provider's pending work ---------------------------------------------------------

    def add_submission(self, submission_id: str, info: dict, postacert: bytes | None, envelope: bytes | None) -> None:
        with self.transaction():
            self._conn.execute(
                "INSERT INTO submissions (id, info, postacert, envelope) VALUES (?, ?, ?, ?)",
                (submission_id, json.dumps(info, ensure_ascii=False), postacert, envelope),
            )

    def submission(self, submission_id: str) -> tuple[dict, bytes | None, bytes | None] | None:
        row = self._conn.execute(
            "SELECT info, postacert, envelope FROM submissions WHERE id = ?", (submission_id,)
        ).fetchone()
        if row is None:
            return None
        return json.loads(row[0]), (bytes(row[1]) if row[1] is not None else None), (bytes(row[2]) if row[2] is not None else None)

    def set_envelope(self, submission_id: str, envelope: bytes) -> None:
        with self.transaction():
            self._conn.execute("UPDATE submissions SET envelope = ? WHERE id = ?", (envelope, submission_id))

    def add_event(self, due: float, submission_id: str, kind: str, recipient: str) -> PendingEvent:
        with self.transaction():
            cursor = self._conn.execute(
                "INSERT INTO events (due, submission, kind, recipient) VALUES (?, ?, ?, ?)", (due, submission_id, kind, recipient)
            )
        return PendingEvent(cursor.lastrowid, due, submission_id, kind, recipient)

    def pending_events(self) -> list[PendingEvent]:
        rows = self._conn.execute("SELECT id, due, submission, kind, recipient FROM events ORDER BY due, id")
        return [PendingEvent(*row) for row in rows]

    def other_events_pending(self, event: PendingEvent) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM events WHERE submission = ? AND id != ? LIMIT 1", (event.submission, event.id)
        ).fetchone()
        return row is not None

    def finish_event(self, event: PendingEvent) -> None:
        """Forget a done event, and its submission once nothing else needs it."""
        with self.transaction():
            self._conn.execute("DELETE FROM events WHERE id = ?", (event.id,))
            left = self._conn.execute("SELECT 1 FROM events WHERE submission = ? LIMIT 1", (event.submission,)).fetchone()
            if left is None:
                self._conn.execute("DELETE FROM submissions WHERE id = ?", (event.submission,))


def read_mailbox(directory: Path, address: str, name: str = INBOX) -> list[bytes]:
    """Raw messages of one mailbox folder in UID order, read with a connection of the caller's own."""
    path = directory / STORE_FILE
    if not path.exists():
        return []
    conn = _connect(path)
    try:
        rows = conn.execute(
            "SELECT m.data FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
            " WHERE b.address = ? AND b.name = ? ORDER BY m.uid",
            (address.lower(), name),
        )
        return [bytes(data) for (data,) in rows]
    finally:
        conn.close()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _new_uidvalidity() -> int:
    """A positive 32-bit value that differs from any earlier folder of the same name."""
    return max(1, int(time.time() * 1000) & 0x7FFFFFFF)
