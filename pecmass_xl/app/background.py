"""How background work starts, the one way for both fronts.

The front confirms with the user, then a detached worker process does the long part (sending,
following receipts) and returns nothing to the front: progress goes through the journal (and
Excel's status bar). A send's worker gets the rows the user confirmed in a confirmation file, by
row number and content hash, and sends only those; a row edited meanwhile waits for the next send.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.paths import data_dir, private_dir, private_opener
from pecmass_xl.sending.plan import SendPlan, draft_hash

Spawn = Callable[[list[str]], int]  # worker arguments -> pid


def spawn_worker(arguments: list[str], module: str = "pecmass_xl") -> int:
    """Start `python -m <module> <arguments>` detached from this terminal or Excel; returns its pid."""
    log_dir = private_dir(data_dir() / "workers")
    log_path = log_dir / f"{module.rsplit('.', 1)[-1]}-{int(time.time())}-{os.getpid()}.log"
    kwargs: dict = {"stdin": subprocess.DEVNULL, "close_fds": True}
    if os.name == "nt":
        kwargs["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    else:
        kwargs["start_new_session"] = True
    with open(log_path, "ab", opener=private_opener) as log:
        process = subprocess.Popen([sys.executable, "-m", module, *arguments], stdout=log, stderr=log, **kwargs)
    return process.pid


@dataclass
class SendJob:
    """What a send worker needs besides the workbook: the confirmed rows and the resend groups."""

    confirmation: Path
    resend: frozenset[str]

    def resend_arguments(self) -> list[str]:
        return ["--resend", ",".join(sorted(self.resend))] if self.resend else []


StartSend = Callable[[SendJob], int]  # a front's way to hand a SendJob to its worker (it names the workbook) -> pid


def write_confirmation(plan: SendPlan) -> Path:
    """The rows the user confirmed, by row number and content: the worker sends only these."""
    folder = private_dir(data_dir() / "workers")
    path = folder / f"conferma-{plan.campaign_id}-{int(time.time() * 1000)}.json"
    rows = [{"row": r.number, "hash": draft_hash(r), "id": r.id_invio} for r in plan.due]
    path.write_text(json.dumps({"campaign": plan.campaign_id, "rows": rows,
                                "confirmed_at": dt.datetime.now().isoformat()}), encoding="utf-8")
    return path


def read_confirmation(path: Path) -> set[tuple[int, str]]:
    """(row number, content hash) of every confirmed row; an unreadable file sends nothing."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        return {(int(r["row"]), str(r["hash"])) for r in document["rows"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CannotRun(f"La conferma dell'invio «{Path(path).name}» non è leggibile ({type(exc).__name__}): "
                        "nessuna PEC inviata. Ripetete l'invio.") from exc
