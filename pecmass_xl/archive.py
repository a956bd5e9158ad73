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


def _add_to_manifest(folder: Path, name: str, digest: str) -> None:
    manifest = folder / MANIFEST
    lines = manifest.read_text(encoding="utf-8").splitlines() if manifest.exists() else []
    entry = f"{digest}  {name}"
    if entry not in lines:
        lines.append(entry)
        # Not forced to disk: the manifest can always be recomputed from the files it lists.
        write_atomic(manifest, ("\n".join(lines) + "\n").encode("utf-8"), durable=False)


def store(folder: Path, name: str, data: bytes) -> tuple[Path, str]:
    """Write a file once (an existing file with the same name is kept) and record its SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    path = folder / _SAFE.sub("_", name)
    if not path.exists():
        write_atomic(path, data)
    _add_to_manifest(folder, path.name, digest)
    return path, digest


def sent_name(attempt: int | str) -> str:
    return f"inviato-{attempt}.eml"


def receipt_name(kind: str, moment: dt.datetime | None, receipt_message_id: str) -> str:
    stamp = (moment or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    short = hashlib.sha256(receipt_message_id.encode("utf-8", "replace")).hexdigest()[:8]
    return f"{stamp}-{kind}-{short}.eml"


def verify_manifest(folder: Path) -> list[str]:
    """Names whose content no longer matches the manifest (empty list = intact)."""
    manifest = folder / MANIFEST
    bad: list[str] = []
    if not manifest.exists():
        return bad
    for line in manifest.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        path = folder / name
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(name)
    return bad
