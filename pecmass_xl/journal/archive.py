"""The evidence archive (DESIGN §5.2, §7): per row, the exact `.eml` sent and every receipt as it
arrived, with a SHA-256 manifest. Files are written atomically and never rewritten."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
from pathlib import Path

MANIFEST = "SHA256SUMS.txt"
EVIDENCE_PAGE = "prova.html"  # the row's printable evidence page (tracking/evidence.py)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def archive_root(workbook: Path, configured: Path | None = None) -> Path:
    """`<workbook> - archivio PEC/` next to the workbook unless `Cartella archivio` says otherwise."""
    return configured if configured else workbook.parent / f"{workbook.stem} - archivio PEC"


def row_folder(root: Path, row_id: str) -> Path:
    return root / row_id


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Write via a temporary file and rename; `durable` also forces it to disk before the rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_folder(folder: Path) -> None:
    """Make the names created in `folder` durable (POSIX; Windows cannot open a folder for this)."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _add_to_manifest(folder: Path, name: str, digest: str) -> None:
    """Append the entry unless present.

    Appended, never rewritten, so the lines already there cannot be lost by a crash halfway. Not
    forced to disk: the files it lists are, and it can be recomputed from them. A line torn by a
    crash (no final newline) is dropped before the next entry is appended.
    """
    manifest = folder / MANIFEST
    try:
        text = manifest.read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        text = ""
    complete = text[: text.rfind("\n") + 1]
    entry = f"{digest}  {name}"
    if entry in complete.splitlines():
        return
    if complete != text:
        write_atomic(manifest, complete.encode("utf-8"), durable=False)
    with open(manifest, "ab") as handle:
        handle.write((entry + "\n").encode("utf-8"))


def _missing_folders(folder: Path) -> list[Path]:
    """`folder` and its ancestors that do not exist yet (they are about to be created)."""
    missing: list[Path] = []
    while not folder.is_dir() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    return missing


def target(folder: Path, name: str) -> Path:
    """Where `store(folder, name, …)` puts the file."""
    return folder / _SAFE.sub("_", name)


def store(folder: Path, name: str, data: bytes) -> tuple[Path, str]:
    """Write a file once (an existing file with the same name is kept) and record its SHA-256.

    On return the file and its name are on disk (file and folder synced), so a journal entry that
    refers to it never outlives it after a crash.
    """
    digest = hashlib.sha256(data).hexdigest()
    path = target(folder, name)
    if not path.exists():
        created = _missing_folders(folder)
        write_atomic(path, data)
        # Forced to disk, file and name: the journal points at it before the hand-over, and after a
        # power cut the in-doubt resolution looks for it. Every folder created for it is synced in its
        # parent too, or the name of a new row folder could vanish with its content.
        fsync_folder(folder)
        for new_folder in created:
            fsync_folder(new_folder.parent)
    _add_to_manifest(folder, path.name, digest)
    return path, digest


def sent_name(attempt: int | str) -> str:
    return f"inviato-{attempt}.eml"


def receipt_name(kind: str, moment: dt.datetime | None, receipt_message_id: str) -> str:
    stamp = (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    short = hashlib.sha256(receipt_message_id.encode("utf-8", "replace")).hexdigest()[:8]
    return f"{stamp}-{kind}-{short}.eml"


def verify_manifest(folder: Path) -> list[str]:
    """Names whose content no longer matches the manifest (empty list = intact)."""
    manifest = folder / MANIFEST
    bad: list[str] = []
    if not manifest.exists():
        return bad
    text = manifest.read_text(encoding="utf-8")
    for line in text[: text.rfind("\n") + 1].splitlines():  # a last line torn by a crash is not an entry
        digest, _, name = line.partition("  ")
        path = folder / name
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(name)
    return bad
