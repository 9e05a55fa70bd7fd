"""Helpers that make time-dependent code testable without sleeping."""

from __future__ import annotations

import threading


class FakeClock:
    """A clock that moves only when told to.

    Code under test takes a ``clock`` callable (``time.time`` by default) and,
    where it waits, a ``sleep`` callable. Give it this object instead and the
    test decides when time passes::

        clock = FakeClock(start=1000.0)
        queue = TaskQueue(clock=clock)
        clock.advance(30)          # thirty seconds later, instantly
    """

    def __init__(self, start: float = 1_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def time(self) -> float:
        return self()

    def advance(self, seconds: float) -> float:
        """Move time forward and return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def sleep(self, seconds: float) -> None:
        """A ``time.sleep`` replacement that advances the clock and returns at once."""
        self.advance(max(0.0, seconds))
