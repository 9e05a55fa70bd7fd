"""Exercise 2: a blocking get with a timeout, the way Lib/queue.py does it.

``BlockingQueue`` is the waiting logic of TaskQueue with nothing else around it:
``put(item)`` adds an item, ``get(timeout)`` takes the oldest one, waiting for
one if the queue is empty.

Part 1: ``put(item)``: add the item and wake up one waiting ``get``.
Part 2: ``get(timeout=None)``: wait until an item is there, at most ``timeout``
        seconds, and survive wake-ups that find nothing to take.

The tools, all made in ``__init__`` for you:
- ``self._items``, a deque: ``append`` at the back, ``popleft`` from the front;
- ``self.not_empty``, a ``threading.Condition`` on ``self._lock``. ``with
  self.not_empty:`` takes the lock; inside it, ``self.not_empty.wait(t)`` lets
  the lock go, sleeps until a ``notify()`` or until ``t`` seconds passed, and
  takes the lock back before it returns; ``self.not_empty.notify()`` wakes one waiter;
- ``self._clock()``, the current time in seconds. Use it (not ``time.monotonic()``
  directly) for the deadline: the tests replace it with a fake clock.

Write the waiting loop yourself. ``Condition.wait_for`` contains the same loop,
but it reads the real clock, so the tests could not control its time.

Check your work:   pytest session1_basics/exercises/test_ex2_blocking_get.py
              or   python -m workshop check 1
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
        # TODO Part 1: the item goes in at the back, and exactly one sleeping get learns
        #   about it. Rule: the deque and the condition are touched only under the lock.
        raise NotImplementedError(
            "Exercise 2, part 1: append the item and notify one waiter, holding the lock "
            "(hint: make hint SESSION=1 EXERCISE=2)")

    def get(self, timeout: float | None = None) -> Any | None:
        """Take the oldest item, waiting at most ``timeout`` seconds (None: no limit).

        Returns None if the time runs out with the queue still empty;
        ``timeout=0`` returns at once.
        """
        # TODO Part 2: a wake-up is not a promise: one that finds the queue empty waits
        #   again, and only for what is left of the time (never the whole timeout again).
        #   Time measured with self._clock(); when it runs out, None.
        raise NotImplementedError(
            "Exercise 2, part 2: wait in a loop until an item is there or the deadline "
            "has passed (hint: make hint SESSION=1 EXERCISE=2)")
