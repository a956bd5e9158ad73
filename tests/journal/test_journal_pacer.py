"""The shared per-mailbox pacer with a fake clock (the two-process case is in test_journal_processes)."""

from __future__ import annotations

import pytest

from pecmass_xl.journal.locks import Pacer


class FakeClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def pacer(tmp_path, clock):
    with Pacer(tmp_path / "pacing.sqlite", clock=clock, sleep=clock.sleep) as p:
        yield p


def test_slots_are_spaced_by_the_pace(pacer, clock):
    start = clock.now
    slots = [pacer.acquire("studio@pec.it", 6) for _ in range(4)]  # Legalmail: 6 per minute
    assert slots == [start, start + 10, start + 20, start + 30]
    assert clock.now == start + 30
    assert pacer.next_allowed("STUDIO@pec.it") == start + 40


def test_two_pacers_on_one_file_share_the_bucket(tmp_path, clock):
    with Pacer(tmp_path / "p.sqlite", clock=clock, sleep=clock.sleep) as a, \
            Pacer(tmp_path / "p.sqlite", clock=clock, sleep=clock.sleep) as b:
        slots = [a.reserve("m@pec.it", 60), b.reserve("m@pec.it", 60), a.reserve("m@pec.it", 60)]
        assert [s - clock.now for s in slots] == [0, 1, 2]
        assert b.reserve("altro@pec.it", 60) == clock.now  # another mailbox, another bucket


def test_idle_time_is_not_saved_up_beyond_the_burst(pacer, clock):
    pacer.acquire("m@pec.it", 60)
    clock.now += 3600  # an hour idle
    start = clock.now
    assert [pacer.reserve("m@pec.it", 60) for _ in range(3)] == [start, start + 1, start + 2]
    clock.now += 3600
    start = clock.now
    assert [pacer.reserve("m@pec.it", 60, burst=3) for _ in range(5)] == [start, start, start, start + 1,
                                                                          start + 2]


def test_pause_holds_every_sender_of_the_mailbox(pacer, clock):
    start = clock.now
    pacer.reserve("m@pec.it", 60)
    until = pacer.pause("m@pec.it", 120)  # "550 Too much traffic": wait two minutes
    assert until == start + 120
    assert pacer.pause("m@pec.it", 10) == start + 120  # a shorter pause never shortens it
    assert pacer.reserve("m@pec.it", 60) == start + 120
    assert pacer.reserve("m@pec.it", 60) == start + 121
    assert pacer.reserve("m@pec.it", None) == start + 120  # pacing off still honours the pause


def test_pacing_off(pacer, clock):
    assert [pacer.acquire("m@pec.it", None) for _ in range(3)] == [clock.now] * 3
    assert pacer.acquire("m@pec.it", 0) == clock.now
    assert clock.sleeps == []


def test_stop_while_waiting(pacer, clock):
    pacer.reserve("m@pec.it", 1)  # one per minute
    stops = iter([False, False, True])
    assert pacer.acquire("m@pec.it", 1, should_stop=lambda: next(stops)) is None
    assert clock.sleeps == [1.0, 1.0]  # woke up every second to check


def test_clock_jumping_back_does_not_block_for_hours(pacer, clock):
    pacer.reserve("m@pec.it", 60)
    clock.now -= 24 * 3600  # the wall clock was corrected by a day
    assert pacer.reserve("m@pec.it", 60) == clock.now
