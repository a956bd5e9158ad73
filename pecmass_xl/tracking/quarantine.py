"""Quarantine: receipts the parser could not read, kept in the campaign's archive with the reason.

Nothing the mailbox holds is lost in silence (issue 12): a message the parser trips on is stored
here (`<archive>/quarantena/<sha256>.eml` plus `<sha256>.json` with the reason and the row it
seems to concern), counted in the `receipts` output and in the report, and read again at the start
of every sync, so an upgraded parser recovers it. Once read, it moves to `quarantena/riletti/`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from pecmass_xl.journal import archive

log = logging.getLogger("pecmass.receipts")

QUARANTINE_DIR = "quarantena"
RECOVERED_DIR = "riletti"


@dataclass(frozen=True)
class Quarantined:
    path: Path
    reason: str
    row_id: str | None


def folder(archive_root: Path) -> Path:
    return archive_root / QUARANTINE_DIR


def put(archive_root: Path, raw: bytes, reason: str, row_id: str | None) -> Path:
    """Keep `raw` with its reason (idempotent: the same bytes go to the same file)."""
    # A holding area, not evidence (no manifest: files leave it once read, and the receipt is then
    # archived in its row's folder), but written as durably as the archive.
    base = folder(archive_root)
    path = base / f"{hashlib.sha256(raw).hexdigest()[:32]}.eml"
    if not path.exists():
        archive.write_atomic(path, raw)
        archive.fsync_folder(base)
    meta = {"motivo": reason, "riga": row_id, "messo_il": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    archive.write_atomic(path.with_suffix(".json"), json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
    log.warning("receipt quarantined: %s (%s)", path.name, reason)
    return path


def pending(archive_root: Path) -> list[Quarantined]:
    """The messages still waiting in quarantine, oldest name first."""
    out: list[Quarantined] = []
    base = folder(archive_root)
    if not base.is_dir():
        return out
    for path in sorted(base.glob("*.eml")):
        try:
            meta = json.loads(path.with_suffix(".json").read_text("utf-8"))
        except (OSError, ValueError):
            meta = {}
        out.append(Quarantined(path, str(meta.get("motivo") or "motivo non registrato"), meta.get("riga")))
    return out


def rows_waiting(archive_root: Path) -> dict[str, int]:
    """Row id → how many of its messages wait in quarantine (those naming a row of this campaign)."""
    counts: dict[str, int] = {}
    for item in pending(archive_root):
        if item.row_id:
            counts[item.row_id] = counts.get(item.row_id, 0) + 1
    return counts


def release(item: Quarantined) -> None:
    """The message was read: move it (and its reason) to `riletti/`, out of the count."""
    target = item.path.parent / RECOVERED_DIR
    target.mkdir(exist_ok=True)
    for source in (item.path, item.path.with_suffix(".json")):
        if source.exists():
            os.replace(source, target / source.name)
    log.info("quarantined receipt read again: %s", item.path.name)
