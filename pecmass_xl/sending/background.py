"""Detached workers (`--background`) and their control: status from the journal, stop by a flag."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from pecmass_xl.core.paths import data_dir
from pecmass_xl.journal import Journal, campaign_lock
from pecmass_xl.journal.signals import PROGRESS_META, STOP_META, WORKER_META


def spawn_worker(arguments: list[str], module: str = "pecmass_xl") -> int:
    """Start `python -m <module> <arguments>` detached from this terminal or Excel; returns its pid."""
    log_dir = data_dir() / "workers"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{module.rsplit('.', 1)[-1]}-{int(time.time())}-{os.getpid()}.log"
    kwargs: dict = {"stdin": subprocess.DEVNULL, "close_fds": True}
    if os.name == "nt":
        kwargs["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    else:
        kwargs["start_new_session"] = True
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", module, *arguments], stdout=log, stderr=log, **kwargs)
    return process.pid


def worker_running(campaign_id: str) -> bool:
    lock = campaign_lock(campaign_id)
    if lock.try_acquire():
        lock.release()
        return False
    return True


def request_stop(journal: Journal) -> None:
    journal.set_meta(STOP_META, "1")


def progress(journal: Journal) -> dict:
    raw = journal.get_meta(PROGRESS_META)
    data = json.loads(raw) if raw else {}
    data["worker_pid"] = journal.get_meta(WORKER_META)
    return data


def wait_for_exit(campaign_id: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker_running(campaign_id):
            return True
        time.sleep(0.2)
    return not worker_running(campaign_id)

