"""Child processes for the journal's multi-process tests (run as a script, one task per call).

Every task waits for a start file first, so the processes really overlap, and writes its result as
JSON to an output file.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from pecmass_xl.journal.ledger import Ledger
from pecmass_xl.journal.locks import Pacer, hold_campaign_lock
from pecmass_xl.journal.status import EventKind as K
from pecmass_xl.journal.store import Journal


def wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"start file {path} never appeared")
        time.sleep(0.01)


def sender(journal_path: str, start: str, count: str, out: str) -> None:
    """Like the sending worker: new attempts (durable), then the SMTP answer."""
    with Journal(journal_path) as journal:
        wait_for(Path(start))
        rows = []
        for _ in range(int(count)):
            row_id = journal.new_row_id()
            attempt = journal.begin_attempt(row_id, content_hash="h", recipient="d@pec.it", domain="pec.it")
            journal.add_event(attempt, K.SMTP_INVIATO, smtp_code=250)
            rows.append(row_id)
    Path(out).write_text(json.dumps({"rows": rows}))


def receipts(journal_path: str, start: str, ids_file: str, out: str) -> None:
    """Like a receipts sync: each receipt twice (two folders), batched with the sync cursor."""
    message_ids = json.loads(Path(ids_file).read_text())
    recorded = duplicates = 0
    with Journal(journal_path) as journal:
        wait_for(Path(start))
        for uid, message_id in enumerate(message_ids, start=1):
            with journal.batch():
                for kind in (K.ACCETTAZIONE, K.AVVENUTA_CONSEGNA, K.ACCETTAZIONE):
                    receipt_id = f"<{kind}.{uid}@provider.it>"
                    if journal.add_event(message_id, kind, receipt_message_id=receipt_id):
                        recorded += 1
                    else:
                        duplicates += 1
                journal.set_sync_state("INBOX", 1, uid)
    Path(out).write_text(json.dumps({"recorded": recorded, "duplicates": duplicates}))


def pace(pacer_path: str, start: str, mailbox: str, count: str, per_minute: str, out: str) -> None:
    results = []
    with Pacer(pacer_path) as pacer:
        wait_for(Path(start))
        for _ in range(int(count)):
            slot = pacer.acquire(mailbox, float(per_minute))
            results.append({"slot": slot, "after": time.time()})
    Path(out).write_text(json.dumps(results))


def ledger_writer(ledger_path: str, start: str, tag: str, count: str) -> None:
    wait_for(Path(start))
    with Ledger(ledger_path) as ledger:
        for n in range(int(count)):
            ledger.record(mailbox="m@pec.it", recipient="d@pec.it", content_hash=f"h{n}", campaign_id="CX",
                          row_id=None, message_id=f"<{tag}.{n}@pec.it>")


def hold_lock(locks_dir: str, campaign_id: str, ready: str) -> None:
    lock = hold_campaign_lock(campaign_id, Path(locks_dir))
    Path(ready).write_text("held")
    time.sleep(120)
    lock.release()


def crash_after_commit(journal_path: str, row_id: str, ready: str) -> None:
    """Commit an attempt, say so, then hang as if the SMTP hand-over were in progress (gets killed)."""
    journal = Journal(journal_path)
    attempt = journal.begin_attempt(row_id, content_hash="h", recipient="d@pec.it", domain="pec.it")
    Path(ready).write_text(attempt.message_id)
    time.sleep(120)


TASKS = {
    "sender": sender,
    "receipts": receipts,
    "pace": pace,
    "ledger": ledger_writer,
    "hold-lock": hold_lock,
    "crash-after-commit": crash_after_commit,
}

if __name__ == "__main__":
    TASKS[sys.argv[1]](*sys.argv[2:])
