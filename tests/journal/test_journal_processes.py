"""Several processes on the same files: journal writers, ledger, campaign lock, shared pacer, crashes.

No timing is asserted: only counts, ordering of reserved slots and lower bounds that sleeping
guarantees.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pecmass_xl.core import vocabulary as v
from pecmass_xl.journal.ids import new_campaign_id
from pecmass_xl.journal.ledger import Ledger
from pecmass_xl.journal.locks import SendInProgress, campaign_lock, hold_campaign_lock, mailbox_lock
from pecmass_xl.journal.status import EventKind as K
from pecmass_xl.journal.store import AttemptPending, Journal

WORKERS = Path(__file__).with_name("journal_workers.py")


def spawn(*args: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKERS), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(*procs: subprocess.Popen) -> None:
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err


def wait_for_file(path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        if proc.poll() is not None:
            pytest.fail(f"worker exited early: {proc.communicate()[1]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("worker never got ready")
        time.sleep(0.01)
    return path.read_text()


def test_sender_and_receipts_sync_write_the_same_journal_at_once(tmp_path):
    campaign = new_campaign_id()
    path = tmp_path / f"{campaign}.sqlite"
    count = 60
    with Journal(path, campaign) as journal:
        earlier = []
        for _ in range(count):
            row_id = journal.new_row_id()
            attempt = journal.begin_attempt(row_id, content_hash="h", recipient="d@pec.it", domain="pec.it")
            journal.add_event(attempt, K.SMTP_INVIATO)
            earlier.append((row_id, attempt.message_id))
    ids_file = tmp_path / "ids.json"
    ids_file.write_text(json.dumps([mid for _, mid in earlier]))
    start = tmp_path / "start"
    procs = [
        spawn("sender", path, start, count, tmp_path / "sender.json"),
        spawn("receipts", path, start, ids_file, tmp_path / "receipts.json"),
    ]
    start.write_text("go")
    finish(*procs)

    sent = json.loads((tmp_path / "sender.json").read_text())["rows"]
    receipts = json.loads((tmp_path / "receipts.json").read_text())
    assert receipts == {"recorded": 2 * count, "duplicates": count}
    with Journal(path) as journal:
        views = journal.row_views()
        assert len(views) == 2 * count
        assert all(views[row_id].status.stato == v.ST_DELIVERED for row_id, _ in earlier)
        assert all(views[row_id].status.stato == v.ST_SENT for row_id in sent)
        assert journal.status_counts() == {v.ST_DELIVERED: count, v.ST_SENT: count}
        assert journal.sync_state("INBOX").last_uid == count
        assert len(journal.message_ids()) == 2 * count


def test_concurrent_first_open_and_writes_of_one_ledger(tmp_path):
    ledger_path = tmp_path / "fresh" / "ledger.sqlite"
    start = tmp_path / "start"
    procs = [spawn("ledger", ledger_path, start, f"p{n}", 20) for n in range(3)]
    start.write_text("go")
    finish(*procs)
    with Ledger(ledger_path) as ledger:
        assert len(ledger.entries_for_campaign("CX")) == 60


def test_pacer_is_shared_by_two_processes(tmp_path):
    pacer_path = tmp_path / "pacing.sqlite"
    start = tmp_path / "start"
    per_minute, each = 1200.0, 6  # one slot every 50 ms
    interval = 60.0 / per_minute
    procs = [spawn("pace", pacer_path, start, "Studio@PEC.it", each, per_minute, tmp_path / f"pace{n}.json")
             for n in range(2)]
    # a third process on another mailbox is not held back by them (its own bucket)
    other = spawn("pace", pacer_path, start, "altro@pec.it", 2, per_minute, tmp_path / "other.json")
    start.write_text("go")
    finish(*procs, other)

    results = [json.loads((tmp_path / f"pace{n}.json").read_text()) for n in range(2)]
    assert [len(r) for r in results] == [each, each]
    slots = sorted(item["slot"] for r in results for item in r)
    assert len(set(slots)) == 2 * each
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    assert min(gaps) >= interval - 1e-6  # never two sends of one mailbox inside one interval
    for r in results:
        assert [item["slot"] for item in r] == sorted(item["slot"] for item in r)
        assert all(item["after"] >= item["slot"] for item in r)  # nobody sent before its slot
    other_slots = [item["slot"] for item in json.loads((tmp_path / "other.json").read_text())]
    assert len(other_slots) == 2


def test_second_send_of_the_same_workbook_is_refused_until_the_first_dies(tmp_path):
    campaign = new_campaign_id()
    ready = tmp_path / "ready"
    holder = spawn("hold-lock", tmp_path, campaign, ready)
    try:
        wait_for_file(ready, holder)
        with pytest.raises(SendInProgress) as refused:
            hold_campaign_lock(campaign, tmp_path)
        assert "già in corso" in str(refused.value) and str(holder.pid) in str(refused.value)
        assert refused.value.exit_code == 2
        # other campaigns and the mailbox lock are independent
        hold_campaign_lock(new_campaign_id(), tmp_path).release()
        with mailbox_lock("studio@pec.it", tmp_path):
            pass
    finally:
        holder.kill()  # SIGKILL on POSIX: the OS must drop the lock
        holder.wait(timeout=30)
    lock = hold_campaign_lock(campaign, tmp_path)
    assert lock.held and lock.owner()["pid"] > 0
    lock.release()
    assert not lock.held


def test_file_lock_excludes_within_one_process_and_times_out(tmp_path):
    first, second = campaign_lock("CX", tmp_path), campaign_lock("CX", tmp_path)
    assert first.try_acquire()
    assert not second.try_acquire()
    with pytest.raises(TimeoutError):
        second.acquire(timeout=0.2)
    with pytest.raises(RuntimeError):
        first.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()
    with mailbox_lock("a@pec.it", tmp_path) as held:
        assert held.held and "a@pec.it" not in held.path.name  # no address in file names
        assert not mailbox_lock("A@PEC.IT", tmp_path).try_acquire()


def test_attempt_committed_before_a_crash_is_found_in_doubt(tmp_path):
    campaign = new_campaign_id()
    path = tmp_path / f"{campaign}.sqlite"
    with Journal(path, campaign) as journal:
        row_id = journal.new_row_id()
    ready = tmp_path / "ready"
    child = spawn("crash-after-commit", path, row_id, ready)
    message_id = wait_for_file(ready, child)
    child.kill()
    child.wait(timeout=30)
    with Journal(path) as journal:
        in_doubt = journal.attempts_in_doubt()
        assert [a.message_id for a in in_doubt] == [message_id]
        assert journal.row_view(row_id).status.stato == v.ST_SENDING
        assert journal.rows_to_send([row_id], ["failed", "uncertain", "sent"]) == []
        with pytest.raises(AttemptPending):
            journal.begin_attempt(row_id, content_hash="h", recipient="d@pec.it", domain="pec.it")
        # resolution: no receipt within the wait → Incerto; a later receipt upgrades it
        journal.add_event(message_id, K.INCERTO)
        assert journal.row_view(row_id).status.stato == v.ST_UNCERTAIN
        journal.add_event(message_id, K.ACCETTAZIONE, receipt_message_id="<late@provider.it>")
        assert journal.row_view(row_id).status.stato == v.ST_ACCEPTED
