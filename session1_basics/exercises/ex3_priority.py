"""Exercise 3: a priority queue by overriding four storage hooks.

TaskQueue keeps all of its locking and waiting in its public methods and stores
the pending tasks behind four small hooks, as CPython's Lib/queue.py does:
``_init``, ``_qsize``, ``_put`` and ``_get``. ``PriorityTaskQueue`` overrides only
the hooks, and inherits the blocking get, timeouts, stats and join unchanged.
(Read them at the end of session1_basics/task_queue.py: four lines of code.)

A task's priority is ``data["priority"]``, an int, 0 if absent. Higher priority
leaves first; among equal priorities, the task added first leaves first (FIFO).

Part 1: ``sort_key(task)``: a key that sorts the task that should leave first lowest.
Part 2: the hooks ``_qsize``, ``_put`` and ``_get``, with ``heapq`` on ``self._heap``.

``heapq`` keeps a plain list arranged so that ``heapq.heappop(h)`` removes and
returns the smallest item, and ``heapq.heappush(h, item)`` adds one; both are
fast however long the list. Items that are tuples compare element by element.

Check your work:   pytest session1_basics/exercises/test_ex3_priority.py
              or   python -m workshop check 1
"""

from __future__ import annotations

import heapq  # noqa: F401 - for part 2
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
        self._heap: list[tuple[tuple[int, int], Task]] = []  # (sort key, task) pairs
        self._arrivals = itertools.count()  # next(self._arrivals): 0, then 1, 2, ...

    def sort_key(self, task: Task) -> tuple[int, int]:
        """Smaller keys leave first: higher priority first, then earlier arrival.

        Called once per task, when it is added. Two different tasks must never
        get equal keys.
        """
        # TODO Part 1: the smallest key leaves first. Rule: higher priority first; among
        #              equal priorities, earlier arrival first; no two tasks share a key.
        raise NotImplementedError(
            "Exercise 3, part 1: return a key that sorts higher priorities and earlier "
            "arrivals first (hint: make hint SESSION=1 EXERCISE=3)")

    def _qsize(self) -> int:
        # TODO Part 2: how many tasks are pending?
        raise NotImplementedError("Exercise 3, part 2: return the number of pending tasks "
                                  "(hint: make hint SESSION=1 EXERCISE=3)")

    def _put(self, task: Task) -> None:
        # TODO Part 2: store the task so that the one with the smallest key comes out
        #              first, without sorting the whole list on every put.
        raise NotImplementedError("Exercise 3, part 2: push the task onto the heap with its key "
                                  "(hint: make hint SESSION=1 EXERCISE=3)")

    def _get(self) -> Task:
        # TODO Part 2: take out the task with the smallest key and return the task.
        raise NotImplementedError("Exercise 3, part 2: pop the task with the smallest key "
                                  "(hint: make hint SESSION=1 EXERCISE=3)")
