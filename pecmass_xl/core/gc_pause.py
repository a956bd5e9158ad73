"""Building many small objects at once (a 100,000-row list and its checks) without paying for it.

CPython's cyclic garbage collector runs every few hundred new container objects and, as the heap
grows, scans all the long-lived ones again and again: reading and checking a big list spent about
40 % of its time there. The rows, their values and the checked drafts form no reference cycles, so
the collector is paused while they are built and resumed (as it was) afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
