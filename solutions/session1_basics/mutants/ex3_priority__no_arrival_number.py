"""Mistake: the key is the priority alone, so equal priorities make the heap compare two Tasks (TypeError).

Rejected by:
    test_ex3_priority.py::TestPart1_SortKey::test_equal_priorities_keep_their_arrival_order
    test_ex3_priority.py::TestPart2_Hooks::test_highest_priority_first_and_fifo_among_equals
    test_ex3_priority.py::TestPart2_Hooks::test_many_equal_priorities_leave_in_arrival_order
    test_ex3_priority.py::TestPart2_Hooks::test_counts_and_empty_queue

A plausible wrong solution of exercise 3 (the tests must catch it).

Exercise 3: a priority queue by overriding four storage hooks.

TaskQueue keeps all of its locking and waiting in its public methods and stores
the pending tasks behind four small hooks, as CPython's Lib/queue.py does:
``_init``, ``_qsize``, ``_put`` and ``_get``. ``PriorityTaskQueue`` overrides only
the hooks, and inherits the blocking get, timeouts, stats and join unchanged.

A task's priority is ``data["priority"]``, an int, 0 if absent. Higher priority
leaves first; among equal priorities, the task added first leaves first (FIFO).

Part 1: ``sort_key(task)``: a key that sorts the task that should leave first lowest.
Part 2: the hooks ``_qsize``, ``_put`` and ``_get``, with ``heapq`` on ``self._heap``.
"""

from __future__ import annotations

import heapq
import itertools

from session1_basics.task import Task
from session1_basics.task_queue import TaskQueue


def priority_of(task: Task) -> int:
    """The task's priority: ``data["priority"]``, an int, 0 if absent."""
    priority = task.data.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise TypeError(f"task data 'priority' must be an int (higher runs first), "
                        f"got {priority!r}")
    return priority


class PriorityTaskQueue(TaskQueue):
    """A TaskQueue that hands out the highest priority first, FIFO among equals."""

    def _init(self) -> None:
        self._heap: list[tuple[tuple[int, int], Task]] = []
        self._arrivals = itertools.count()  # 0, 1, 2, ...: the order tasks arrived in

    def sort_key(self, task: Task) -> tuple[int, int]:
        """Smaller keys leave first: higher priority first, then earlier arrival.

        The arrival number also makes every key unique, so the heap never has to
        compare two Tasks (which cannot be ordered) when priorities are equal.
        """
        return (-priority_of(task),)

    def _qsize(self) -> int:
        return len(self._heap)

    def _put(self, task: Task) -> None:
        heapq.heappush(self._heap, (self.sort_key(task), task))

    def _get(self) -> Task:
        _key, task = heapq.heappop(self._heap)
        return task
