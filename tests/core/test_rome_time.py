"""Rome time: the one conversion of aware (UTC) times to the Italian times users read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pecmass_xl.core.rome_time import in_rome, rome_month, rome_wall_clock


def test_wall_clock_follows_summer_and_winter_time():
    assert rome_wall_clock(datetime(2026, 9, 19, 13, 41, 19, tzinfo=UTC)) == datetime(2026, 9, 19, 15, 41, 19)
    assert rome_wall_clock(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == datetime(2027, 1, 1, 0, 30)
    # the night summer time starts: 01:00 UTC is 03:00 in Rome, one minute before it is 01:59
    assert rome_wall_clock(datetime(2026, 3, 29, 0, 59, tzinfo=UTC)) == datetime(2026, 3, 29, 1, 59)
    assert rome_wall_clock(datetime(2026, 3, 29, 1, 0, tzinfo=UTC)) == datetime(2026, 3, 29, 3, 0)
    assert rome_wall_clock(None) is None


def test_any_aware_zone_is_accepted_and_naive_times_are_refused():
    new_york = timezone(timedelta(hours=-5))
    assert rome_wall_clock(datetime(2026, 1, 1, 12, tzinfo=new_york)) == datetime(2026, 1, 1, 18)
    assert in_rome(datetime(2026, 7, 1, 10, tzinfo=UTC)).utcoffset() == timedelta(hours=2)
    for convert in (rome_wall_clock, in_rome, rome_month):
        with pytest.raises(ValueError):
            convert(datetime(2026, 1, 1))


def test_month_is_the_italian_calendar_month():
    # 23:30 UTC on 31 January is already February in Italy
    assert rome_month(datetime(2026, 1, 31, 23, 30, tzinfo=UTC)) == "2026-02"
    assert rome_month(datetime(2026, 1, 31, 22, 59, tzinfo=UTC)) == "2026-01"
