"""Tests for exercise 3: a priority queue by overriding the storage hooks.

Run:  pytest session1_basics/exercises/test_ex3_priority.py
"""

from __future__ import annotations

import threading

import pytest

from session1_basics.task import Task, TaskStatus
from workshop.exercises import load_exercise

ex = load_exercise(__file__)  # the learner's file, the solution, or a mutant

BOUND = 2.0  # seconds: more than any step needs; reached only when something is broken

# (name, priority) in the order they are added, and the order they must leave in:
# highest priority first, and among equal priorities the one added first.
ADDED = [("a", 1), ("b", 5), ("c", 3), ("d", 5), ("e", 1), ("f", 0), ("g", 5), ("h", 3),
         ("i", -2), ("j", 0), ("k", 9), ("l", 3)]
EXPECTED = [name for name, _ in sorted(ADDED, key=lambda pair: -pair[1])]  # sorted() is stable


def task(priority: int | None = None) -> Task:
    return Task({} if priority is None else {"priority": priority})


def drain(queue) -> list[str]:
    names = []
    while (claimed := queue.get_task("worker-1", timeout=0)) is not None:
        names.append(claimed.data["name"])
    return names


class TestPart1_SortKey:
    def test_higher_priority_gets_the_smaller_key(self):
        queue = ex.PriorityTaskQueue()
        low = queue.sort_key(task(1))
        high = queue.sort_key(task(5))
        assert high < low, (
            f"sort_key gave {low} for priority 1 (added first) and {high} for priority 5; "
            f"the priority-5 key must be smaller, because the smallest key leaves first")

    def test_equal_priorities_keep_their_arrival_order(self):
        queue = ex.PriorityTaskQueue()
        keys = [queue.sort_key(task(2)) for _ in range(20)]
        assert keys == sorted(keys) and len(set(keys)) == len(keys), (
            f"20 tasks of priority 2 got the keys {keys[:5]}...; expected strictly increasing "
            f"keys, so that the first one added leaves first")

    def test_priority_counts_before_arrival(self):
        queue = ex.PriorityTaskQueue()
        first = queue.sort_key(task(1))
        later = queue.sort_key(task(2))
        assert later < first, (
            f"priority 1 (added first) got {first}, priority 2 (added later) got {later}; "
            f"the higher priority must win whatever the arrival order")

    def test_no_priority_means_zero(self):
        queue = ex.PriorityTaskQueue()
        below, default, above = queue.sort_key(task(-1)), queue.sort_key(task()), queue.sort_key(task(1))
        assert above < default < below, (
            f"keys for priorities 1, none and -1: {above}, {default}, {below}; a task without "
            f"a priority should sort like priority 0")

    def test_keys_are_tuples_of_ints(self):
        key = ex.PriorityTaskQueue().sort_key(task(3))
        assert isinstance(key, tuple) and all(isinstance(part, int) for part in key), (
            f"sort_key returned {key!r}; expected a tuple of ints, such as (-3, 0)")


class TestPart2_Hooks:
    def make_queue(self, added=ADDED):
        queue = ex.PriorityTaskQueue()
        for name, priority in added:
            queue.add_task({"name": name, "priority": priority})
        return queue

    def test_highest_priority_first_and_fifo_among_equals(self):
        got = drain(self.make_queue())
        assert got == EXPECTED, (
            f"added {ADDED}, then claimed {got}; expected {EXPECTED}")

    def test_many_equal_priorities_leave_in_arrival_order(self):
        added = [(f"t{n:02d}", 1) for n in range(30)]
        got = drain(self.make_queue(added))
        assert got == [name for name, _ in added], (
            f"30 tasks of equal priority left in the order {got[:6]}...; expected the order "
            f"they were added (t00, t01, ...). If you saw \"'<' not supported between "
            f"instances of 'Task' and 'Task'\", two keys were equal")

    def test_interleaved_adds_and_claims(self):
        queue = ex.PriorityTaskQueue()
        queue.add_task({"name": "low", "priority": 1})
        queue.add_task({"name": "mid", "priority": 5})
        first = queue.get_task("w", timeout=0).data["name"]
        queue.add_task({"name": "urgent", "priority": 9})
        queue.add_task({"name": "mid-2", "priority": 5})
        rest = drain(queue)
        assert [first, *rest] == ["mid", "urgent", "mid-2", "low"], (
            f"claimed {[first, *rest]}; expected ['mid', 'urgent', 'mid-2', 'low']")

    def test_counts_and_empty_queue(self):
        queue = self.make_queue()
        assert len(queue) == len(ADDED), f"len(queue) is {len(queue)} after {len(ADDED)} adds"
        claimed = queue.get_task("w", timeout=0)
        assert claimed.status is TaskStatus.PROCESSING and claimed.data["name"] == "k"
        stats = queue.get_stats()
        assert (stats["pending"], stats["processing"]) == (len(ADDED) - 1, 1), stats
        drain(queue)
        assert len(queue) == 0 and queue.get_task("w", timeout=0) is None, (
            "after claiming everything the queue should be empty and get_task(timeout=0) return None")

    def test_a_waiting_worker_still_wakes_up(self):
        queue = ex.PriorityTaskQueue()
        waiting, got = threading.Event(), {}
        real_wait = queue.not_empty.wait

        def wait(timeout=None):
            waiting.set()  # the worker is about to wait (it still holds the lock)
            return real_wait(timeout)

        queue.not_empty.wait = wait

        def worker() -> None:
            try:
                got["task"] = queue.get_task("w", timeout=BOUND)
            except Exception as error:  # handed to the test below
                got["error"] = error
            waiting.set()

        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        assert waiting.wait(BOUND), "get_task on an empty PriorityTaskQueue did not wait"
        if "error" in got:
            raise got["error"]
        queue.add_task({"name": "x", "priority": 1})
        thread.join(BOUND + 1)
        assert got.get("task") is not None and got["task"].data["name"] == "x", (
            "a worker waiting in get_task did not receive the task added afterwards")

    def test_a_bad_priority_is_refused_and_nothing_is_queued(self):
        queue = ex.PriorityTaskQueue()
        with pytest.raises(TypeError, match="priority"):
            queue.add_task({"name": "x", "priority": "high"})
        assert len(queue) == 0 and queue.get_stats()["total"] == 0, (
            "a task with a bad priority was refused, but something was left behind in the queue")
