"""Per-user cross-process locks and the per-mailbox pacer.

- `FileLock`: an exclusive OS lock on a file in `data_dir()/locks/` (`fcntl.flock` on POSIX,
  `msvcrt.locking` on Windows). The OS drops it when the holder dies, even on SIGKILL, so a crashed
  send never leaves a stale lock behind. Two `FileLock`s on the same file exclude each other also
  within one process.
- `campaign_lock`: held for a whole send of a workbook; a second send of the same workbook (same
  campaign id) is refused with an Italian message (`SendInProgress`).
- `workbook_lock`: keyed on a workbook's normalised resolved path (case, UNC prefixes); held while
  a workbook that has no campaign id yet is given one, so two processes racing on a never-sent
  workbook agree on one campaign before either has written anything (`SendClaim`).
- `mailbox_lock`: one per sender mailbox, for work that must not overlap across campaigns.
- `Pacer`: a token bucket per mailbox shared by every process of the user (every campaign of that
  mailbox). Its state is the bucket's "theoretical arrival time" (GCRA) in a small SQLite table,
  updated under `BEGIN IMMEDIATE`; each call reserves the next free slot and then waits for it, so
  concurrent senders interleave at the combined pace instead of each sending at full pace.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pecmass_xl.core import paths
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.journal import ids
from pecmass_xl.journal._db import Database
from pecmass_xl.journal.ledger import normalise_mailbox

_POLL_SECONDS = 0.05
_LOCKED_ERRNOS = {errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK}


def locks_dir() -> Path:
    return paths.private_dir(paths.data_dir() / "locks")


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _os_try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _os_unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _os_try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in _LOCKED_ERRNOS:
                return False
            raise
        return True

    def _os_unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class FileLock:
    """An exclusive, non-reentrant cross-process lock on `path` (the file is never deleted)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def owner_path(self) -> Path:
        return self.path.with_name(self.path.name + ".owner")

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if free; False at once if another holder has it."""
        if self._fd is not None:
            raise RuntimeError("lock already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            locked = _os_try_lock(fd)
        except BaseException:
            os.close(fd)
            raise
        if not locked:
            os.close(fd)
            return False
        self._fd = fd
        self._write_owner()
        return True

    def acquire(self, timeout: float | None = None) -> None:
        """Wait for the lock (for ever, or up to `timeout` seconds, then TimeoutError)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.try_acquire():
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"lock {self.path.name} is busy")
            time.sleep(_POLL_SECONDS)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            self.owner_path.unlink(missing_ok=True)
        except OSError:
            pass  # informational file only
        try:
            _os_unlock(fd)
        finally:
            os.close(fd)

    def owner(self) -> dict | None:
        """Who holds the lock, as the holder wrote it ({"pid", "since"}), if anyone says so."""
        try:
            return json.loads(self.owner_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _write_owner(self) -> None:
        info = {"pid": os.getpid(), "since": datetime.now(UTC).isoformat(timespec="seconds")}
        try:
            self.owner_path.write_text(json.dumps(info), encoding="utf-8")
        except OSError:
            pass

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def __del__(self) -> None:  # pragma: no cover - safety net
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass


class SendInProgress(CannotRun):
    """Another process is already sending this workbook (same campaign)."""


IN_PROGRESS_TEXT = "è già in corso un invio di questa campagna"


def in_progress_message(owner: dict | None) -> str:
    who = f" (processo {owner['pid']})" if owner and "pid" in owner else ""
    return (f"Invio non avviato: {IN_PROGRESS_TEXT}{who}, da questa cartella di lavoro o da una sua copia. "
            "Attendere che finisca oppure fermarlo con «pecmass stop» (Interrompi in Excel); nulla è stato inviato.")


def _mailbox_key(mailbox: str) -> str:
    # Hashed: a file name never shows the address (and any address becomes a safe name).
    return hashlib.sha256(normalise_mailbox(mailbox).encode("utf-8")).hexdigest()[:24]


def campaign_lock(campaign_id: str, directory: Path | None = None) -> FileLock:
    if not ids.is_campaign_id(campaign_id):
        raise ValueError(f"invalid campaign id {campaign_id!r}")
    return FileLock((directory or locks_dir()) / f"campaign-{campaign_id}.lock")


def normalise_workbook_path(path: Path | str) -> str:
    """One key for every way of naming the same workbook file: resolved (symlinks, `..`), without the
    Windows long-path and UNC prefixes, separators unified, case folded (Windows and macOS compare
    names case-insensitively; folding on Linux only makes the claim stricter). OneDrive URLs are
    turned into the local synced path by the Excel front before they get here."""
    text = str(path)
    for prefix, replacement in (("\\\\?\\UNC\\", "\\\\"), ("\\\\?\\", ""), ("//?/UNC/", "//"), ("//?/", "")):
        if text.startswith(prefix):
            text = replacement + text[len(prefix):]
    text = os.path.normcase(os.path.realpath(text))
    return text.replace("\\", "/").casefold()


def workbook_lock(path: Path | str, directory: Path | None = None) -> FileLock:
    key = hashlib.sha256(normalise_workbook_path(path).encode("utf-8")).hexdigest()[:24]
    return FileLock((directory or locks_dir()) / f"workbook-{key}.lock")


def mailbox_lock(mailbox: str, directory: Path | None = None) -> FileLock:
    return FileLock((directory or locks_dir()) / f"mailbox-{_mailbox_key(mailbox)}.lock")


def hold_campaign_lock(campaign_id: str, directory: Path | None = None) -> FileLock:
    """Take the campaign's lock for a send, or refuse: two sends of one workbook never run at once."""
    lock = campaign_lock(campaign_id, directory)
    if not lock.try_acquire():
        raise SendInProgress(in_progress_message(lock.owner()))
    return lock


class SendClaim:
    """The locks a send holds from before its planning to its end: the workbook's path lock and the
    campaign lock. Racing processes (two terminals, the ribbon's worker and a CLI send, two copies of
    one workbook) share them before either has written anything, so only one plans and sends."""

    def __init__(self, workbook_path: Path | str, directory: Path | None = None) -> None:
        self._directory = directory
        self._path_lock = workbook_lock(workbook_path, directory)
        self._campaign_lock: FileLock | None = None
        if not self._path_lock.try_acquire():
            raise SendInProgress(in_progress_message(self._path_lock.owner()))

    def take_campaign(self, campaign_id: str) -> None:
        """Claim the campaign (after its id is in the workbook); refuses if another process has it."""
        try:
            self._campaign_lock = hold_campaign_lock(campaign_id, self._directory)
        except BaseException:
            self.release()
            raise

    @property
    def campaign_lock(self) -> FileLock | None:
        return self._campaign_lock

    def release(self) -> None:
        if self._campaign_lock is not None:
            self._campaign_lock.release()
        self._path_lock.release()


# --- pacing ---------------------------------------------------------------------------------------
_PACER_MIGRATIONS = (
    """
    CREATE TABLE pace (
        mailbox_key TEXT PRIMARY KEY,
        tat REAL NOT NULL,
        not_before REAL NOT NULL DEFAULT 0
    )
    """,
)
_MAX_AHEAD_SECONDS = 6 * 3600.0
"""State further ahead than this means the wall clock jumped back: start afresh."""


class Pacer:
    """Per-mailbox token bucket shared across processes (default file `data_dir()/locks/pacing.sqlite`).

    `clock` must be a wall clock shared by all processes (seconds since the epoch); `sleep` is
    injectable for tests.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = Database(Path(path) if path is not None else locks_dir() / "pacing.sqlite",
                            _PACER_MIGRATIONS, what="lo stato del ritmo di invio")
        self._clock = clock
        self._sleep = sleep

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Pacer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def reserve(self, mailbox: str, per_minute: float | None, *, burst: int = 1) -> float:
        """Reserve the mailbox's next send slot; returns its time (epoch seconds), maybe in the past.

        `per_minute` None or ≤ 0 means no pacing. A reserved slot is used or lost, never given to
        another sender: after a crash the pace is, if anything, slower.
        """
        key = _mailbox_key(mailbox)
        interval = 60.0 / per_minute if per_minute and per_minute > 0 else 0.0
        tolerance = max(burst - 1, 0) * interval
        if interval == 0.0:
            # Pacing off: only a rate-limit pause applies, and nothing needs reserving.
            now = self._clock()
            row = self._db.read_one("SELECT not_before FROM pace WHERE mailbox_key = ?", (key,))
            not_before = row["not_before"] if row else 0.0
            return max(now, not_before) if not_before <= now + _MAX_AHEAD_SECONDS else now
        with self._db.transaction() as c:
            now = self._clock()
            row = c.execute("SELECT tat, not_before FROM pace WHERE mailbox_key = ?", (key,)).fetchone()
            tat, not_before = (row["tat"], row["not_before"]) if row else (now, 0.0)
            if tat > now + _MAX_AHEAD_SECONDS or not_before > now + _MAX_AHEAD_SECONDS:
                tat, not_before = now, 0.0
            tat = max(tat, now)
            slot = max(now, tat - tolerance, not_before)
            new_tat = max(tat, slot) + interval
            c.execute(
                "INSERT INTO pace (mailbox_key, tat, not_before) VALUES (?, ?, ?) "
                "ON CONFLICT(mailbox_key) DO UPDATE SET tat = excluded.tat, not_before = excluded.not_before",
                (key, new_tat, not_before),
            )
        return slot

    def wait_until(self, slot: float, should_stop: Callable[[], bool] | None = None) -> bool:
        """Sleep until `slot`; False if `should_stop` said so first (checked about once a second)."""
        while True:
            remaining = slot - self._clock()
            if remaining <= 0:
                return True
            if should_stop is not None and should_stop():
                return False
            self._sleep(min(remaining, 1.0) if should_stop is not None else remaining)

    def acquire(
        self,
        mailbox: str,
        per_minute: float | None,
        *,
        burst: int = 1,
        should_stop: Callable[[], bool] | None = None,
    ) -> float | None:
        """Reserve a slot and wait for it; the slot time, or None if stopped while waiting."""
        slot = self.reserve(mailbox, per_minute, burst=burst)
        return slot if self.wait_until(slot, should_stop) else None

    def pause(self, mailbox: str, seconds: float) -> float:
        """No send from this mailbox, by any process, for `seconds` (a rate-limit answer); the new limit."""
        key = _mailbox_key(mailbox)
        with self._db.transaction() as c:
            now = self._clock()
            until = now + max(seconds, 0.0)
            c.execute(
                "INSERT INTO pace (mailbox_key, tat, not_before) VALUES (?, ?, ?) "
                "ON CONFLICT(mailbox_key) DO UPDATE SET not_before = MAX(not_before, excluded.not_before), "
                "tat = MAX(tat, excluded.tat)",
                (key, until, until),
            )
            row = c.execute("SELECT not_before FROM pace WHERE mailbox_key = ?", (key,)).fetchone()
        return row["not_before"]

    def next_allowed(self, mailbox: str) -> float | None:
        """When the next unreserved slot opens (for an ETA), or None if the mailbox has no state."""
        row = self._db.read_one("SELECT tat, not_before FROM pace WHERE mailbox_key = ?", (_mailbox_key(mailbox),))
        return None if row is None else max(row["tat"], row["not_before"])
