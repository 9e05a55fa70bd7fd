"""Tests for exercise 1: a heartbeat, and deciding from it whether a worker is alive.

Run: pytest session5_recovery/exercises/test_ex1_heartbeat.py

Redis is fakeredis (in this process) and time is a fake clock that moves only
when a test says so. Part 3 uses real threads, but waits on events with
deadlines instead of sleeping and hoping.
"""

import threading
import time

import fakeredis
import pytest

from workshop.exercises import load_exercise
from workshop.testing import FakeClock

ex = load_exercise(__file__)

Q = "ex1"
WAIT = 1.0  # upper bound for things that should happen almost at once


@pytest.fixture
def r():
    client = fakeredis.FakeRedis(decode_responses=True)
    yield client
    client.close()


class TestPart1_write_heartbeat:
    def test_writes_the_key_with_a_ttl(self, r):
        ex.write_heartbeat(r, Q, "w1", now=1000.0, ttl=5.0)
        value = r.get(f"{Q}:worker:w1")
        assert value is not None, (
            "called write_heartbeat(r, 'ex1', 'w1', now=1000.0, ttl=5.0); the key "
            "'ex1:worker:w1' does not exist afterwards; expected it to hold the time")
        assert float(value) == 1000.0, f"the key 'ex1:worker:w1' holds {value!r}; expected the time 1000.0"
        ttl_ms = r.pttl(f"{Q}:worker:w1")
        assert 4000 < ttl_ms <= 5000, (
            f"the key 'ex1:worker:w1' has a TTL of {ttl_ms} ms; expected about 5000 ms "
            f"(-1 means no TTL at all: the key would never expire and a dead worker would "
            f"look alive forever)")

    def test_a_ttl_below_one_second_still_expires(self, r):
        ex.write_heartbeat(r, Q, "w1", now=1000.0, ttl=0.5)
        ttl_ms = r.pttl(f"{Q}:worker:w1")
        assert 0 < ttl_ms <= 500, (
            f"write_heartbeat(..., ttl=0.5) left a TTL of {ttl_ms} ms; expected about 500 ms. "
            f"EX counts whole seconds; PX (milliseconds) can say 0.5 s")

    def test_records_the_worker_in_the_registry(self, r):
        ex.write_heartbeat(r, Q, "w1", now=1000.0, ttl=5.0)
        score = r.zscore(f"{Q}:workers", "w1")
        assert score == 1000.0, (
            f"after write_heartbeat(r, 'ex1', 'w1', now=1000.0, ...), ZSCORE ex1:workers w1 is "
            f"{score!r}; expected 1000.0 (the registry maps worker id -> last seen)")

    def test_a_second_beat_refreshes_both(self, r):
        ex.write_heartbeat(r, Q, "w1", now=1000.0, ttl=5.0)
        ex.write_heartbeat(r, Q, "w1", now=1003.0, ttl=5.0)
        assert float(r.get(f"{Q}:worker:w1")) == 1003.0, "the second beat did not update the key"
        members = r.zrange(f"{Q}:workers", 0, -1, withscores=True)
        assert members == [("w1", 1003.0)], (
            f"after beats at 1000.0 and 1003.0 the registry holds {members}; "
            f"expected one entry, [('w1', 1003.0)]")


class TestPart2_liveness:
    @pytest.mark.parametrize(("last_seen", "now", "expected"), [
        (100.0, 100.0, True),
        (100.0, 104.9, True),
        (100.0, 105.0, False),
        (100.0, 250.0, False),
    ])
    def test_is_alive(self, last_seen, now, expected):
        got = ex.is_alive(last_seen, now, ttl=5.0)
        assert got is expected, (
            f"is_alive(last_seen={last_seen}, now={now}, ttl=5.0) returned {got!r}; expected "
            f"{expected} ({now - last_seen:g} s of silence, and a worker is dead after 5 s)")

    def test_dead_workers_are_the_silent_ones_oldest_first(self, r):
        r.zadd(f"{Q}:workers", {"a": 100.0, "b": 103.0, "c": 106.0})
        clock = FakeClock(start=108.5)
        got = ex.dead_workers(r, Q, ttl=5.0, clock=clock)
        assert got == ["a", "b"], (
            f"workers last seen at a=100, b=103, c=106; at time 108.5 with ttl=5 "
            f"dead_workers returned {got}; expected ['a', 'b'] (c spoke 2.5 s ago: alive)")

    def test_time_decides_not_the_call(self, r):
        r.zadd(f"{Q}:workers", {"a": 100.0})
        clock = FakeClock(start=101.0)
        assert ex.dead_workers(r, Q, ttl=5.0, clock=clock) == [], (
            "a worker seen 1 s ago with ttl=5 was reported dead")
        clock.advance(10)
        got = ex.dead_workers(r, Q, ttl=5.0, clock=clock)
        assert got == ["a"], (
            f"after the fake clock moved 10 s on, dead_workers returned {got}; expected ['a']: "
            f"read the time from clock(), not from time.time()")


class Beats:
    """Counts beat() calls and lets a test wait for the n-th one."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def __call__(self) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def wait_for(self, n: int, timeout: float = WAIT) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count >= n, timeout)


class TestPart3_heartbeat_thread:
    def test_beats_keep_coming_during_a_long_task(self):
        beats = Beats()

        def long_task():
            # A task that runs until it has seen three heartbeats (or gives up after 1 s).
            return beats.wait_for(3)

        saw_three = ex.run_with_heartbeat(long_task, beats, interval=0.01)
        assert saw_three, (
            f"a task ran for {WAIT} s with interval=0.01 and saw only {beats.count} beat(s) "
            f"while it ran; expected a beat every 0.01 s. A heartbeat sent only before and after "
            f"each task makes every long task look like a dead worker")

    def test_the_first_beat_is_sent_before_the_task_starts(self):
        """A task must never run unannounced: the first beat has been sent when it starts.

        The first beat holds itself back until the task starts (or WAIT passes): code
        that starts the task without waiting for that beat lets the task start during
        it, which the beat sees; correct code cannot, so the beat just waits WAIT.
        """
        task_started = threading.Event()
        first_beat_saw_the_task = []

        def beat():
            if not first_beat_saw_the_task:
                first_beat_saw_the_task.append(task_started.wait(WAIT))

        def task():
            task_started.set()
            return "done"

        assert ex.run_with_heartbeat(task, beat, interval=30) == "done"
        assert first_beat_saw_the_task, "beat() was never called"
        assert first_beat_saw_the_task == [False], (
            "task() started while the first beat was still being sent: a worker killed "
            "just then would hold a task that no heartbeat ever announced. Send the first "
            "beat (and let it finish) before calling task()")

    def test_first_beat_comes_at_once(self):
        beats = Beats()
        first_in_time = ex.run_with_heartbeat(lambda: beats.wait_for(1), beats, interval=30)
        assert first_in_time, (
            "with interval=30 the task waited 1 s and saw no beat; expected the first "
            "beat right away, not after the first interval")

    def test_returns_the_result_and_stops_beating(self):
        beats = Beats()
        result = ex.run_with_heartbeat(lambda: {"answer": 42}, beats, interval=0.01)
        assert result == {"answer": 42}, f"run_with_heartbeat returned {result!r}; expected the task's result"
        after_return = beats.count
        time.sleep(0.05)  # five intervals: a thread still running would beat again
        assert beats.count == after_return, (
            f"beat() was called {beats.count - after_return} more time(s) after "
            f"run_with_heartbeat returned; stop the thread (and join it) when the task ends")

    def test_an_error_in_the_task_is_raised_and_stops_the_beats(self):
        beats = Beats()

        def broken():
            raise RuntimeError("task exploded")

        with pytest.raises(RuntimeError, match="task exploded"):
            ex.run_with_heartbeat(broken, beats, interval=0.01)
        after_return = beats.count
        time.sleep(0.05)
        assert beats.count == after_return, (
            "after the task raised, beat() kept being called: stop the thread in a finally block")
