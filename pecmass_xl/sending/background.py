"""Control of the detached workers: running or not (the campaign lock), progress from the journal, stop
by a flag. They are started by `pecmass_xl.app.background`."""

from __future__ import annotations

import json
import time

from pecmass_xl.journal import Journal, campaign_lock
from pecmass_xl.journal.locks import workbook_lock
from pecmass_xl.journal.signals import PROGRESS_META, STOP_META, WORKER_META


def worker_running(campaign_id: str) -> bool:
    return _held(campaign_lock(campaign_id))


def workbook_busy(path) -> bool:
    """A send has claimed this workbook file (maybe before its campaign id was even written)."""
    return _held(workbook_lock(path))


def _held(lock) -> bool:
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

