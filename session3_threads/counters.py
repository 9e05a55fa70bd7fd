"""Shared counters for the race-condition demo: one that loses updates, one that cannot.

``counter += 1`` looks like one step but is three: read the value, add one, write it
back. If another thread writes between our read and our write, our write overwrites
theirs and one increment is lost: a *lost update*.

In CPython the GIL switches threads only between bytecodes, and on recent versions
mostly at calls and loop edges, so with a bare ``+= 1`` the loss is real but rare and
varies between Python versions. ``UnsafeCounter`` makes the window wide on purpose: it
calls ``pause()`` (by default ``time.sleep(0)``, which releases the GIL and lets another
thread run) between the read and the write. That is exactly what a real program does
when it reads a value, calls a function or waits on I/O, and then writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def yield_to_other_threads() -> None:
    """Release the GIL for a moment so another thread can run (``time.sleep(0)``)."""
    time.sleep(0)


class UnsafeCounter:
    """A counter whose ``increment`` is a read, a pause and a write, with no lock."""

    def __init__(self, pause: Callable[[], None] = yield_to_other_threads) -> None:
        self.value = 0
        self._pause = pause

    def increment(self) -> None:
        current = self.value      # read
        self._pause()             # another thread may run here and write...
        self.value = current + 1  # ...and this write overwrites its update


class LockedCounter(UnsafeCounter):
    """The same read, pause and write, made atomic by a ``threading.Lock``.

    The lock covers the read *and* the write: a lock around only the write would still let
    two threads read the same value.
    """

    def __init__(self, pause: Callable[[], None] = yield_to_other_threads) -> None:
        super().__init__(pause)
        self._lock = threading.Lock()

    def increment(self) -> None:
        with self._lock:
            current = self.value
            self._pause()  # other threads may run, but they wait at the lock
            self.value = current + 1


def hammer(counter: UnsafeCounter, threads: int = 4, increments: int = 2_000) -> int:
    """Increment ``counter`` ``increments`` times from each of ``threads`` threads.

    Returns the number of lost updates: the expected total minus the final value.
    All threads wait at a barrier first so they really run at the same time.
    """
    start_together = threading.Barrier(threads)

    def work() -> None:
        start_together.wait()
        for _ in range(increments):
            counter.increment()

    pool = [threading.Thread(target=work, name=f"incrementer-{i}") for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return threads * increments - counter.value
