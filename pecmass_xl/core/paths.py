"""Where pecmass keeps its per-user files (journals, ledger, log, default sandbox).

Always local to the user, never next to the workbook: journals must not live on a network share.
`PECMASS_DATA_DIR` overrides the location (tests use it).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import platformdirs

log = logging.getLogger("pecmass.paths")

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    """Remove group and other permissions from a folder or file of ours (POSIX only)."""
    if os.name != "posix":
        return
    try:
        info = path.stat()
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(path, mode)
    except OSError as exc:
        log.warning("permissions of a private path not tightened: %s", type(exc).__name__)


def private_dir(path: Path) -> Path:
    """A folder only its owner can enter (0700 on POSIX): journals and logs hold recipients' addresses."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create `path` (if absent) readable by its owner only (0600 on POSIX), before SQLite or a log
    handler opens it: they keep the mode of an existing file (SQLite gives it to -wal and -shm too)."""
    if os.name == "posix":
        # Never open an existing file here: SQLite may hold it open in this process, and closing any
        # descriptor of a file drops every POSIX lock the process holds on it (SQLite's locks too),
        # which lets two processes write the ledger at once and lose each other's records.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        except FileExistsError:
            pass
        else:
            os.close(fd)
        _tighten(path, PRIVATE_FILE_MODE)
    return path


def private_opener(path: str, flags: int) -> int:
    """`open(..., opener=private_opener)`: a new file is created 0600."""
    return os.open(path, flags, PRIVATE_FILE_MODE)


def data_dir() -> Path:
    """The per-user data folder, created on first use, private to the user."""
    override = os.environ.get("PECMASS_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir("pecmass", appauthor=False))
    return private_dir(path)


def default_sandbox_dir() -> Path:
    """The sandbox folder: `PECMASS_SANDBOX_DIR`, else `<data dir>/sandbox`."""
    override = os.environ.get("PECMASS_SANDBOX_DIR")
    return Path(override) if override else data_dir() / "sandbox"


def journals_dir_path() -> Path:
    """Where the journals live, without creating it."""
    return data_dir() / "journals"


def journals_dir() -> Path:
    return private_dir(data_dir() / "journals")


def log_file() -> Path:
    return data_dir() / "pecmass.log"


def not_writable_message(path: Path, what: str, exc: OSError | None = None) -> str:
    """The Italian message for a folder or file pecmass must write and cannot (issue 10)."""
    reason = f" ({exc.strerror})" if exc is not None and exc.strerror else ""
    return (f"Non posso scrivere in «{path}» ({what}){reason}: la cartella o il file è in sola lettura o non "
            "accessibile. Nessuna PEC è stata inviata e nulla è stato modificato: rendetela scrivibile e riprovate.")


def ensure_writable(folder: Path, what: str) -> None:
    """Prove that `folder` (created if missing) takes a new file, by writing and removing one.

    A real write, not `os.access`: permissions are not the only way a folder refuses writes (an
    administrator, an immutable flag, a read-only mount, a synced folder offline).
    """
    import tempfile

    from pecmass_xl.core.errors import CannotRun

    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".pecmass-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CannotRun(not_writable_message(folder, what, exc)) from None


def ensure_file_writable(path: Path, what: str) -> None:
    """A file that exists must not be marked read-only (the write would fail halfway, or on Windows
    the atomic replace would)."""
    import stat

    from pecmass_xl.core.errors import CannotRun

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CannotRun(not_writable_message(path, what, exc)) from None
    if not mode & stat.S_IWUSR:
        raise CannotRun(not_writable_message(path, what))
