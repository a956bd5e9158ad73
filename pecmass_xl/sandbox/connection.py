"""`connessione.json` (how clients reach a running sandbox) and the lock that keeps one sandbox per folder."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.italian import describe_error

CONNECTION_FILE = "connessione.json"
LOCK_FILE = "sandbox.lock"
CONNECTION_KEYS = (
    "smtp_host",
    "smtp_port",
    "smtp_starttls_port",
    "imap_host",
    "imap_port",
    "user",
    "password",
    "ca_file",
    "dir",
)
# Written by sandboxes since issue 14; absent from older files, so never required by readers.
OPTIONAL_KEYS = ("clock",)


def write_connection(directory: Path, connection: dict) -> Path:
    """Atomically (re)write `<dir>/connessione.json`."""
    path = directory / CONNECTION_FILE
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=CONNECTION_FILE, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            keys = CONNECTION_KEYS + tuple(k for k in OPTIONAL_KEYS if k in connection)
            json.dump({key: connection[key] for key in keys}, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_connection(directory: Path | str | None = None) -> dict:
    """The connection details a sandbox wrote in `directory` (default: the sandbox folder of DESIGN §7).

    Raises `CannotRun` (Italian message) when no sandbox ever ran there or the file is unreadable.
    """
    if directory is None:
        from pecmass_xl.core.paths import default_sandbox_dir

        directory = default_sandbox_dir()
    path = Path(directory) / CONNECTION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CannotRun(f"Nessuna sandbox trovata in «{directory}»: avviatela con «pecmass sandbox».") from None
    except (OSError, ValueError) as exc:
        raise CannotRun(f"Impossibile leggere «{path}» ({describe_error(exc) if isinstance(exc, OSError) else 'contenuto non valido'}).") from None
    missing = [key for key in CONNECTION_KEYS if key not in data]
    if missing:
        raise CannotRun(f"«{path}» è incompleto (mancano: {', '.join(missing)}).")
    return data


class FolderLock:
    """An exclusive, process-wide lock on the sandbox folder, released automatically if the process dies."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / LOCK_FILE
        self._handle = None

    def acquire(self) -> None:
        handle = open(self._path, "a+b")
        try:
            _lock(handle)
        except OSError:
            handle.close()
            raise CannotRun(
                f"Un'altra sandbox è già in esecuzione sulla cartella «{self._path.parent}»: "
                "fermatela o usate --dir con un'altra cartella."
            ) from None
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            try:
                _unlock(self._handle)
            finally:
                self._handle.close()
                self._handle = None


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(handle) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
