"""Helpers that make time-dependent code testable without sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


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


class Background(threading.Thread):
    """Run ``fn`` in a thread and keep its result, its exception and when it returned.

    The thread starts at once. ``outcome()`` waits for it within a bound, so a
    call that blocks forever fails the test instead of hanging the suite.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(daemon=True)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.result: Any = None
        self.error: BaseException | None = None
        self.returned_at: float | None = None
        self.start()

    def run(self) -> None:
        try:
            self.result = self.fn(*self.args, **self.kwargs)
        except BaseException as error:  # noqa: BLE001 - handed to the test by outcome()
            self.error = error
        self.returned_at = time.monotonic()

    def outcome(self, what: str | None = None, bound: float = 5.0) -> Any:
        """The call's result (or its exception, raised here) once it returns within ``bound`` s."""
        self.join(bound)
        assert not self.is_alive(), f"{what or self.fn.__name__} was still blocked after {bound} s"
        if self.error is not None:
            raise self.error
        return self.result
