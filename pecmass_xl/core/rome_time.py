"""Italian legal time: the one conversion every layer uses (and the sandbox, which may only use core).

PEC receipts, the sheet's dates and the monthly usage counters are all in Rome time; the journal
keeps aware UTC times. Naive datetimes are refused: a time without a zone cannot be converted safely.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

ROME = ZoneInfo("Europe/Rome")


def in_rome(moment: datetime) -> datetime:
    """An aware datetime as an aware Rome time (same instant)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: only aware times can be converted to Rome time")
    return moment.astimezone(ROME)


def rome_wall_clock(moment: datetime | None) -> datetime | None:
    """An aware datetime as naive Rome local time, the form Excel cells hold; None stays None."""
    if moment is None:
        return None
    return in_rome(moment).replace(tzinfo=None)


def rome_month(moment: datetime) -> str:
    """`AAAA-MM` of an aware datetime, in Rome time (the usage counters' months)."""
    return in_rome(moment).strftime("%Y-%m")
