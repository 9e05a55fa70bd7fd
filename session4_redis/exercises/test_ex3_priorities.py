"""Tests for exercise 3 (priorities), on in-process fakeredis (which supports BLMPOP)."""

from __future__ import annotations

import threading
import time

import pytest

from session1_basics.task import TaskStatus
from workshop.exercises import load_exercise

ex = load_exercise(__file__)  # the learner's file, the solution, or a mutant


class CountingClient:
    """Wraps a Redis client and counts the commands (method calls) sent through it."""

    def __init__(self, client):
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def counted(*args, **kwargs):
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return counted


@pytest.fixture
def client(fake_redis):
    return CountingClient(fake_redis)


@pytest.fixture
def queue(client):
    return ex.PriorityTaskQueue(client=client, queue_name="ex3")


class TestPart1_Keys:
    def test_three_lists_highest_first(self, queue):
        assert queue.pending_keys() == ["ex3:pending:high", "ex3:pending:normal",
                                        "ex3:pending:low"], (
            f"pending_keys() returned {queue.pending_keys()!r}")


class TestPart2_Add:
    def test_the_id_goes_onto_its_prioritys_list(self, queue, fake_redis):
        high = queue.add_task({"n": 1}, "high")
        low = queue.add_task({"n": 2}, priority="low")
        normal = queue.add_task({"n": 3})
        assert fake_redis.lrange("ex3:pending:high", 0, -1) == [high]
        assert fake_redis.lrange("ex3:pending:low", 0, -1) == [low]
        assert fake_redis.lrange("ex3:pending:normal", 0, -1) == [normal], (
            "add_task without a priority should use 'normal'")
        assert queue.get_task_info(high).data == {"n": 1}, "the task hash must be stored too"

    def test_an_unknown_priority_is_refused_and_nothing_is_stored(self, queue, fake_redis):
        with pytest.raises(ValueError, match="high"):
            queue.add_task({"n": 1}, "urgent")
        assert fake_redis.keys("ex3:*") == [], (
            "add_task(..., 'urgent') must store nothing: check the priority first")

    def test_bad_data_is_refused(self, queue):
        with pytest.raises(TypeError):
            queue.add_task("not a dict", "high")


class TestPart3_Claim:
    def test_high_first_then_normal_then_low_fifo_within_each(self, queue):
        low = queue.add_task({"n": 1}, "low")
        normal1 = queue.add_task({"n": 2}, "normal")
        high1 = queue.add_task({"n": 3}, "high")
        high2 = queue.add_task({"n": 4}, "high")
        normal2 = queue.add_task({"n": 5}, "normal")
        got = [queue.get_task("w", timeout=0) for _ in range(5)]
        assert None not in got, f"get_task(timeout=0) returned None with tasks pending: {got}"
        order = [task.id for task in got]
        names = {low: "low", normal1: "normal-1", high1: "high-1", high2: "high-2",
                 normal2: "normal-2"}
        assert order == [high1, high2, normal1, normal2, low], (
            f"claimed in the order {[names[i] for i in order]}; expected high-1, high-2, "
            f"normal-1, normal-2, low (highest priority first, oldest first within one)")

    def test_a_claimed_task_is_in_processing(self, queue, fake_redis):
        task_id = queue.add_task({"n": 1}, "low")
        task = queue.get_task("w", timeout=0)
        assert task.id == task_id and task.status is TaskStatus.PROCESSING
        assert fake_redis.lrange("ex3:processing", 0, -1) == [task_id], (
            "the claimed id must be pushed onto the processing list, so it is not lost")
        queue.mark_completed(task_id)
        assert queue.get_stats()["completed"] == 1

    def test_timeout_zero_does_not_wait(self, queue):
        started = time.monotonic()
        assert queue.get_task("w", timeout=0) is None
        assert time.monotonic() - started < 0.2

    def test_an_idle_claim_blocks_instead_of_polling(self, queue, client):
        started = time.monotonic()
        assert queue.get_task("w", timeout=0.4) is None
        elapsed = time.monotonic() - started
        assert elapsed >= 0.35, (
            f"get_task(timeout=0.4) on an empty queue returned after {elapsed:.2f} s; "
            f"it should wait the whole timeout")
        assert len(client.calls) <= 2, (
            f"waiting 0.4 s for a task sent {len(client.calls)} commands "
            f"({client.calls[:5]}...); a blocking claim sends one and waits inside Redis")

    def test_a_high_task_wakes_a_waiting_worker(self, queue):
        queue.add_task({"n": 0}, "low")
        assert queue.get_task("w", timeout=0) is not None  # empties the queue
        holder = {}
        timer = threading.Timer(0.2, lambda: holder.setdefault("id", queue.add_task({"n": 1},
                                                                                    "high")))
        timer.start()
        started = time.monotonic()
        task = queue.get_task("w", timeout=1.5)
        elapsed = time.monotonic() - started
        timer.join()
        assert task is not None and task.id == holder["id"], (
            f"a high-priority task added 0.2 s into get_task(timeout=1.5) was not returned "
            f"(got {task!r} after {elapsed:.2f} s): the claim must wait on ALL priorities at once")
        assert elapsed < 1.2
