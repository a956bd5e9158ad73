"""Crash test (issue 4): SIGKILL the sending process at random moments, restart, repeat.

Whatever the moment of the kill, no recipient may receive a PEC twice, no row may be lost, and
every row must end handed over or `Incerto`.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from pecmass_xl import contract as c
from pecmass_xl.journal.status import HANDED_OVER_STATUSES

from .conftest import envelopes_for, make_campaign, sheet_rows, unique_local

ROWS = 200
KILLS = 20


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX only")
def test_sigkill_at_random_moments_never_sends_twice_and_loses_nothing(sb, tmp_path):
    rng = random.Random(20261128)
    recipients = [f"{unique_local('k')}@studio.pec.test" for _ in range(ROWS)]
    path = make_campaign(tmp_path, recipients)
    command = [sys.executable, "-m", "pecmass_xl", "send", str(path), "--yes", "--in-doubt-wait", "2",
               "--backoff", "0.05"]
    env = dict(os.environ)
    kills = 0
    finished = False
    for _round in range(KILLS * 3):
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + (rng.uniform(0.2, 2.5) if kills < KILLS else 600)
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            continue
        if kills >= KILLS:
            finished = process.returncode in (0, 1)
            break
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
