"""Mistake: each wait() gets the full timeout instead of the time left, so wake-ups stretch the wait.

Rejected by:
    test_ex2_blocking_get.py::TestPart2_Get::test_an_early_wake_up_waits_again_only_for_the_time_left
    test_ex2_blocking_get.py::TestPart2_Get::test_several_early_wake_ups

A plausible wrong solution of exercise 2 (the tests must catch it).

Exercise 2: a blocking get with a timeout, the way Lib/queue.py does it.

``BlockingQueue`` is the waiting logic of TaskQueue with nothing else around it:
``put(item)`` adds an item, ``get(timeout)`` takes the oldest one, waiting for
one if the queue is empty.

Part 1: ``put(item)``: add the item and wake up one waiting ``get``.
Part 2: ``get(timeout=None)``: wait until an item is there, at most ``timeout``
        seconds, and survive wake-ups that find nothing to take.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any


class BlockingQueue:
    """A FIFO queue whose ``get`` waits, safe to share between threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock  # measures the timeout; tests pass a fake clock
        self._items: deque[Any] = deque()
        self._lock = threading.Lock()
        self.not_empty = threading.Condition(self._lock)  # "an item was put"

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def put(self, item: Any) -> None:
        """Add ``item`` at the back and wake up one waiting ``get``."""
        with self.not_empty:
            self._items.append(item)
            self.not_empty.notify()

    def get(self, timeout: float | None = None) -> Any | None:
        """Take the oldest item, waiting at most ``timeout`` seconds (None: no limit).

        Returns None if the time runs out with the queue still empty.
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        with self.not_empty:
            if timeout is None:
                # `while`, not `if`: a wake-up is a hint, not a promise of an item.
                while not self._items:
                    self.not_empty.wait()
            else:
                deadline = self._clock() + timeout  # fixed once, before the loop
                while not self._items:
                    if self._clock() >= deadline:
                        return None
                    self.not_empty.wait(timeout)
            return self._items.popleft()
