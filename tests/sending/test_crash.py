"""Crash test (issue 4): SIGKILL the sending process at random moments, restart, repeat.

Whatever the moment of the kill, no recipient may receive a PEC twice, no row may be lost, and
every row must end handed over or `Incerto`.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from pecmass_xl.journal.status import HANDED_OVER_STATUSES
from pecmass_xl.workbook import contract as c

from .conftest import envelopes_for, make_campaign, sheet_rows, unique_local

ROWS = 200
KILLS = 20
MOST_ACCEPTED_PER_ROUND = 6  # 20 rounds x (6 + the few sent in the jitter) < 200 rows: the kills find work left


class AcceptedCounter(logging.Handler):
    """Counts the sandbox's accepted submissions, so a kill can be aimed at a moment of the sending
    rather than at a wall-clock time that a fast machine outruns."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.accepted = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("submission accepted"):
            self.accepted += 1


@pytest.fixture
def accepted_counter():
    logger = logging.getLogger("pecmass.sandbox.provider")
    counter, level = AcceptedCounter(), logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.INFO)
    yield counter
    logger.removeHandler(counter)
    logger.setLevel(level)


def _wait(process, until, timeout: float) -> bool:
    """Wait until `until()` holds (True) or the process ends or the timeout passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if until():
            return True
        time.sleep(0.002)
    return False


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX only")
def test_sigkill_at_random_moments_never_sends_twice_and_loses_nothing(sb, tmp_path, accepted_counter):
    rng = random.Random(20261128)
    recipients = [f"{unique_local('k')}@studio.pec.test" for _ in range(ROWS)]
    path = make_campaign(tmp_path, recipients)
    command = [sys.executable, "-m", "pecmass_xl", "send", str(path), "--yes", "--in-doubt-wait", "2",
               "--backoff", "0.05"]
    env = dict(os.environ)
    kills = 0
    while kills < KILLS:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Aim: either a moment of the start-up (reading, planning, freezing the rows, logging in)
        # or a moment right after the n-th acceptance of this run (between the 250 and the ledger
        # commit, or in the middle of the next message).
        aim = rng.randint(0, MOST_ACCEPTED_PER_ROUND)
        before = accepted_counter.accepted
        if aim == 0:  # a random moment before this run's first acceptance, however fast the start
            started, delay = time.monotonic(), rng.uniform(0.05, 1.5)
            reached = _wait(process, lambda: time.monotonic() - started >= delay or accepted_counter.accepted > before, 60)
        else:
            reached = _wait(process, lambda: accepted_counter.accepted >= before + aim, 60)
            time.sleep(rng.uniform(0, 0.012))  # a message takes a few ms: land in the next one
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
        else:
            pytest.fail(f"a run ended by itself (exit code {process.returncode}, aim reached: {reached}) "
                        f"after {kills} kills: the campaign ran out of rows before the kills")
    final = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    finished = final.returncode in (0, 1)
    assert kills >= KILLS, f"only {kills} kills landed"
    assert finished, "the last run did not complete"
    sb.wait_idle(20)
    rows = sheet_rows(path)
    assert len(rows) == ROWS
    ids = [r[c.COL_ID] for r in rows]
    assert all(ids) and len(set(ids)) == ROWS, "a row lost its ID invio or two rows share one"
    statuses = {r[c.COL_STATUS] for r in rows}
    assert statuses <= HANDED_OVER_STATUSES, statuses
    twice = [a for a in recipients if envelopes_for(sb, a) > 1]
    assert twice == [], f"{len(twice)} recipients received a PEC twice"
    delivered_or_uncertain = sum(1 for a in recipients if envelopes_for(sb, a) == 1)
    uncertain = sum(1 for r in rows if r[c.COL_STATUS] == "Incerto")
    assert delivered_or_uncertain + uncertain >= ROWS
