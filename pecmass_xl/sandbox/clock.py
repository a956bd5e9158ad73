"""Simulated time: `time_scale` simulated seconds pass per real second (DESIGN §7).

Delivery delays, bounces and the 12/24-hour timeout notices are expressed in simulated time so a test
or a demo can watch a whole day of PEC life in seconds; dates written in receipts follow this clock.
Rate limits are not scaled (they model the provider's real policy).
"""

from __future__ import annotations

import datetime as dt
import time
from email.utils import format_datetime

from pecmass_xl.core.rome_time import in_rome


class SimClock:
    """Starts at the real current time and runs `time_scale` times faster."""

    def __init__(self, time_scale: float = 1.0, start: dt.datetime | None = None) -> None:
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = float(time_scale)
        self._start_sim = (start or dt.datetime.now(dt.UTC)).timestamp()
        self._start_mono = time.monotonic()
        self._start_wall = time.time()

    def published(self) -> dict:
        """How a client recomputes this clock (written in `connessione.json`; see `simulated_now`)."""
        return {"time_scale": self.time_scale, "real_start": self._start_wall, "simulated_start": self._start_sim}

    def timestamp(self) -> float:
        """Current simulated time as a POSIX timestamp."""
        return self._start_sim + (time.monotonic() - self._start_mono) * self.time_scale

    def now(self) -> dt.datetime:
        """Current simulated time, aware, UTC."""
        return dt.datetime.fromtimestamp(self.timestamp(), dt.UTC)

    def real_delay(self, sim_timestamp: float) -> float:
        """Real seconds to wait until the simulated clock reaches `sim_timestamp` (0 if already past)."""
        return max(0.0, (sim_timestamp - self.timestamp()) / self.time_scale)


def simulated_now(published: dict, real_now: float | None = None) -> dt.datetime:
    """The sandbox's current simulated time from its published clock (any process on this computer)."""
    real = time.time() if real_now is None else real_now
    elapsed = real - float(published["real_start"])
    return dt.datetime.fromtimestamp(float(published["simulated_start"]) + elapsed * float(published["time_scale"]), dt.UTC)


def rome(moment: dt.datetime | float) -> dt.datetime:
    """The moment in Italian legal time (what PEC receipts show)."""
    if isinstance(moment, (int, float)):
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    return in_rome(moment).replace(microsecond=0)


def zona(local: dt.datetime) -> str:
    """daticert `zona`: the UTC offset as `+hhmm`."""
    offset = local.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def rfc2822(local: dt.datetime) -> str:
    """`Date:` header value in local time with the zone abbreviation, as Aruba writes it."""
    return f"{format_datetime(local)} ({local.tzname()})"


def giorno(local: dt.datetime) -> str:
    return local.strftime("%d/%m/%Y")


def ora(local: dt.datetime) -> str:
    return local.strftime("%H:%M:%S")
