"""Tests for exercise 2: a blocking get with a timeout.

Run:  pytest session1_basics/exercises/test_ex2_blocking_get.py

Two kinds of test. With real threads: a thread blocks in get() and another puts;
events tell the test when the first one is really waiting, so nothing depends on
sleeping and luck. With a fake clock and a scripted wait(): no threads at all,
and the test decides exactly when wait() returns and how much time has passed,
which is how a wake-up with nothing to take (a "spurious" one) is simulated.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from workshop.exercises import load_exercise
from workshop.testing import Background, FakeClock

ex = load_exercise(__file__)  # the learner's file, the solution, or a mutant

BOUND = 2.0  # seconds: more than any step needs; reached only when something is broken


def until_waiting(waiting: threading.Event, getter: Background) -> None:
    """Return once ``getter`` is inside wait(); raise at once if it returned or failed instead."""
    deadline = time.monotonic() + BOUND
    while not waiting.wait(0.01):
        if not getter.is_alive():
            got = getter.outcome("get()", BOUND + 1)  # raises the getter's exception, if any
            raise AssertionError(f"get() on an empty queue returned {got!r} instead of waiting")
        assert time.monotonic() < deadline, "get() on an empty queue never called not_empty.wait()"


def signal_when_waiting(monkeypatch, queue) -> threading.Event:
    """An event set each time a thread calls queue.not_empty.wait().

    It is set while the waiter still holds the lock, just before wait() lets it
    go: once it is set, whoever takes the lock next runs while the waiter waits.
    """
    waiting = threading.Event()
    real_wait = queue.not_empty.wait

    def wait(timeout=None):
        waiting.set()
        return real_wait(timeout)

    monkeypatch.setattr(queue.not_empty, "wait", wait)
    return waiting


class ScriptedWait:
    """Stands in for not_empty.wait() in a test without threads.

    Each call takes the next step of the script: let some fake time pass, maybe
    put an item, and return as a real wait() would after a notify (True). When
    the script is used up, a call behaves like a real timeout: all of the
    requested time passes and it returns False.
    """

    def __init__(self, queue, clock: FakeClock, steps: list[tuple[float, Any]]) -> None:
        self.queue, self.clock, self.steps = queue, clock, list(steps)
        self.asked: list[float | None] = []  # the timeout of each call

    def __call__(self, timeout: float | None = None) -> bool:
        self.asked.append(timeout)
        if len(self.asked) > 10:
            raise AssertionError(
                f"wait() was called {len(self.asked)} times with timeouts {self.asked[:4]}...: "
                f"the loop never saw its deadline pass. Compute the deadline and the time "
                f"left with self._clock(), not time.monotonic() (the test's clock is fake)")
        if self.steps:
            seconds, item = self.steps.pop(0)
            self.clock.advance(seconds)
            if item is not None:
                self.queue._items.append(item)
            return True
        if timeout is None:
            raise AssertionError("wait() was called without a timeout after the script ended: "
                                 "it would block forever here")
        self.clock.advance(timeout)
        return False


def scripted_queue(monkeypatch, steps: list[tuple[float, Any]]):
    clock = FakeClock(start=100.0)
    queue = ex.BlockingQueue(clock=clock)
    script = ScriptedWait(queue, clock, steps)
    monkeypatch.setattr(queue.not_empty, "wait", script)
    return queue, clock, script


class TestPart1_Put:
    def test_put_keeps_items_in_order(self):
        queue = ex.BlockingQueue()
        for item in ("a", "b", "c"):
            queue.put(item)
        assert list(queue._items) == ["a", "b", "c"], (
            f"after put('a'), put('b'), put('c') the deque self._items holds "
            f"{list(queue._items)}; expected ['a', 'b', 'c']")
        assert len(queue) == 3

    def test_put_wakes_up_a_waiting_thread(self):
        queue = ex.BlockingQueue()
        waiting, outcome = threading.Event(), {}

        def waiter() -> None:
            with queue.not_empty:
                waiting.set()
                outcome["notified"] = queue.not_empty.wait(BOUND)

        thread = threading.Thread(target=waiter, daemon=True)
        thread.start()
        assert waiting.wait(BOUND)
        queue.put("x")  # gets the lock only once the waiter is inside wait()
        thread.join(BOUND + 1)
        assert outcome.get("notified") is True, (
            "a thread was waiting on not_empty and put('x') was called, but the thread slept "
            f"until its {BOUND} s timeout: put() must call self.not_empty.notify()")


class TestPart2_Get:
    def test_zero_timeout_on_an_empty_queue_returns_none_at_once(self):
        queue = ex.BlockingQueue()
        start = time.monotonic()
        got = queue.get(timeout=0)
        elapsed = time.monotonic() - start
        assert got is None, f"get(timeout=0) on an empty queue returned {got!r}; expected None"
        assert elapsed < 1.0, f"get(timeout=0) took {elapsed:.2f} s; expected no wait at all"

    def test_fifo(self):
        queue = ex.BlockingQueue()
        for item in ("a", "b", "c"):
            queue.put(item)
        got = [queue.get(timeout=0) for _ in range(3)]
        assert got == ["a", "b", "c"], f"put a, b, c then get() three times gave {got}; expected FIFO"
        assert queue.get(timeout=0) is None, "the queue should now be empty"

    def test_timeout_on_an_empty_queue_returns_none_after_about_the_timeout(self):
        queue = ex.BlockingQueue()
        start = time.monotonic()
        got = queue.get(timeout=0.1)
        elapsed = time.monotonic() - start
        assert got is None, f"get(timeout=0.1) on an empty queue returned {got!r}; expected None"
        assert 0.09 <= elapsed < BOUND, (
            f"get(timeout=0.1) on an empty queue returned after {elapsed:.3f} s; expected about 0.1 s")

    def test_a_waiting_get_wakes_up_when_another_thread_puts(self, monkeypatch):
        queue = ex.BlockingQueue()
        waiting = signal_when_waiting(monkeypatch, queue)
        getter = Background(queue.get, BOUND)
        until_waiting(waiting, getter)
        put_at = time.monotonic()
        queue.put("photo.jpg")
        got = getter.outcome(f"get(timeout={BOUND})", BOUND + 1)
        assert got == "photo.jpg", (
            f"get() was waiting, another thread put 'photo.jpg', and get() returned {got!r}")
        assert getter.returned_at - put_at < BOUND / 2, (
            f"get() returned {getter.returned_at - put_at:.2f} s after the put: it should wake up at once")

    def test_get_without_timeout_waits_until_a_put(self, monkeypatch):
        queue = ex.BlockingQueue()
        waiting = signal_when_waiting(monkeypatch, queue)
        getter = Background(queue.get)
        until_waiting(waiting, getter)
        queue.put("x")
        assert getter.outcome("get()", BOUND + 1) == "x"

    def test_a_notify_without_an_item_does_not_end_the_wait_early(self, monkeypatch):
        queue = ex.BlockingQueue()
        waiting = signal_when_waiting(monkeypatch, queue)
        start = time.monotonic()
        getter = Background(queue.get, 0.3)
        until_waiting(waiting, getter)
        with queue.not_empty:
            queue.not_empty.notify()  # wake the getter, but put nothing
        got = getter.outcome("get(timeout=0.3)", BOUND + 1)
        elapsed = getter.returned_at - start
        assert got is None, f"get(timeout=0.3) woken with nothing to take returned {got!r}; expected None"
        assert elapsed >= 0.29, (
            f"get(timeout=0.3) was woken with nothing to take and returned after {elapsed:.3f} s: "
            f"it should have gone back to waiting until the 0.3 s were up (a `while`, not an `if`)")

    # The same part, with fake time: no threads, and wait() returns when the script says.

    def test_an_early_wake_up_waits_again_only_for_the_time_left(self, monkeypatch):
        queue, clock, script = scripted_queue(monkeypatch, [(0.7, None)])
        got = queue.get(timeout=1.0)
        waited = clock() - 100.0
        assert got is None, f"get(timeout=1.0) with nothing ever put returned {got!r}; expected None"
        assert waited == pytest.approx(1.0), (
            f"get(timeout=1.0) was woken after 0.7 s with nothing to take and gave up after "
            f"{waited:.2f} s; expected 1.0 s. Timeouts asked of wait(): {script.asked}")
        assert script.asked == pytest.approx([1.0, 0.3]), (
            f"wait() was asked to wait {script.asked} s; expected [1.0, 0.3]: after waking at "
            f"0.7 s, only 0.3 s of the timeout are left")

    def test_several_early_wake_ups(self, monkeypatch):
        queue, clock, script = scripted_queue(monkeypatch, [(0.5, None), (0.25, None), (0.05, None)])
        assert queue.get(timeout=1.0) is None
        assert script.asked == pytest.approx([1.0, 0.5, 0.25, 0.2]), (
            f"wait() was asked to wait {script.asked} s; expected [1.0, 0.5, 0.25, 0.2]")
        assert clock() - 100.0 == pytest.approx(1.0)

    def test_an_item_put_during_the_wait_is_returned(self, monkeypatch):
        queue, clock, script = scripted_queue(monkeypatch, [(0.2, None), (0.3, "late item")])
        got = queue.get(timeout=1.0)
        assert got == "late item", (
            f"an item arrived after 0.5 s of a 1.0 s get(); get() returned {got!r}")
        assert clock() - 100.0 == pytest.approx(0.5)

    def test_without_timeout_an_early_wake_up_waits_again(self, monkeypatch):
        queue, clock, script = scripted_queue(monkeypatch, [(5.0, None), (5.0, "x")])
        got = queue.get()
        assert got == "x", (
            f"get() without a timeout was woken once with nothing to take, then an item came; "
            f"it returned {got!r}; expected 'x' (keep waiting while the queue is empty)")
        assert script.asked == [None, None], (
            f"wait() was asked to wait {script.asked}; expected [None, None]: no timeout, no deadline")

    def test_the_deadline_is_kept_exactly(self, monkeypatch):
        queue, clock, script = scripted_queue(monkeypatch, [])
        assert queue.get(timeout=2.0) is None
        assert script.asked == pytest.approx([2.0]) and clock() - 100.0 == pytest.approx(2.0), (
            f"get(timeout=2.0) on an empty queue asked wait() for {script.asked} s and gave up "
            f"after {clock() - 100.0:.2f} s; expected one wait of 2.0 s")
