"""Injected faults: the misbehaviours of real servers that the sending engine must survive.

A fault is active until cleared, or for `count` occurrences. Names are part of the public API
(tests and the CLI use them):

- `drop-after-data-accepted`: the message is accepted (receipts follow), then the connection is
  dropped before the final `250` reaches the client — the "did it leave?" case.
- `drop-after-data`: the connection is dropped at the end of DATA; nothing was accepted.
- `temp-421`: `421` at the end of DATA, then the server closes the connection; nothing accepted.
- `temp-451`: `451` at the end of DATA; nothing accepted, the connection stays usable.
- `login-refused`: every login (SMTP AUTH and IMAP) is refused with valid credentials.
- `slow`: the SMTP greeting and the answer to DATA each arrive `slow_delay` real seconds late.
"""

from __future__ import annotations

import threading

DROP_AFTER_DATA_ACCEPTED = "drop-after-data-accepted"
DROP_AFTER_DATA = "drop-after-data"
TEMP_421 = "temp-421"
TEMP_451 = "temp-451"
LOGIN_REFUSED = "login-refused"
SLOW = "slow"

KINDS = (DROP_AFTER_DATA_ACCEPTED, DROP_AFTER_DATA, TEMP_421, TEMP_451, LOGIN_REFUSED, SLOW)
DATA_FAULTS = (DROP_AFTER_DATA_ACCEPTED, DROP_AFTER_DATA, TEMP_421, TEMP_451)
DEFAULT_SLOW_DELAY = 2.0


class Faults:
    """The current fault, shared by the servers; safe to change from any thread."""

    def __init__(self, kind: str | None = None, count: int | None = None, slow_delay: float = DEFAULT_SLOW_DELAY) -> None:
        self._lock = threading.Lock()
        self._kind: str | None = None
        self._remaining: int | None = None
        self.slow_delay = slow_delay
        self.set(kind, count)

    def set(self, kind: str | None, count: int | None = None, slow_delay: float | None = None) -> None:
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._kind = kind
            self._remaining = count if kind else None
            if slow_delay is not None:
                self.slow_delay = slow_delay

    @property
    def kind(self) -> str | None:
        with self._lock:
            return self._kind

    def take(self, *candidates: str) -> str | None:
        """If the active fault is one of `candidates`, consume one occurrence and return it."""
        with self._lock:
            kind = self._kind
            if kind is None or kind not in candidates:
                return None
            if self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._kind = None
                    self._remaining = None
            return kind

    def is_active(self, kind: str) -> bool:
        """True if `kind` is active, without consuming it."""
        with self._lock:
            return self._kind == kind
