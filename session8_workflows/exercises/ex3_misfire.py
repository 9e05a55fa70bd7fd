"""Exercise 3: a misfire policy, and a firing id that makes a double harmless.

A schedule fires every ``every`` seconds, at ``anchor + k * every``. The scheduler
wakes up now and then (every tick; after a restart; after the queue's server came
back) and must decide what to fire since it last looked.

- Part 1: ``due_times(last, now, every, anchor=0.0)``: the due times after ``last``
  and up to ``now`` (both ends: strictly after ``last``, at most ``now``), earliest first.
- Part 2: ``plan(due, now, grace, policy)``: which of ``due`` to fire. A due time
  less than ``grace`` seconds old is *on time*: fire it. Older ones were *missed*:
  with policy ``"catch_up_once"`` fire only the most recent missed one (a report
  missed for a week runs once, not seven times); with ``"skip"`` fire none.
- Part 3: ``firing_id(name, due)`` and ``fire(r, name, due, now)``. Every scheduler,
  at any moment, must make the same id for the same due time (the schedule's name
  and the due time in milliseconds, e.g. ``sched:report:1700000000000``); ``fire``
  enqueues under that id only if it is new (True) and refuses a repeat (False), so
  two schedulers firing one due time, or one restarted mid-firing, run it once.
"""

from __future__ import annotations

import math  # noqa: F401  (math.floor: rounding down to the grid)
from typing import Any

QUEUE = "ex3"


def enqueue_once(r: Any, task_id: str, data: str) -> bool:
    """Given: enqueue ``data`` under ``task_id`` unless that id exists (like session 5's add_task)."""
    if not r.set(f"{QUEUE}:task:{task_id}", data, nx=True):
        return False
    r.rpush(f"{QUEUE}:pending", task_id)
    return True


# --- Part 1 -------------------------------------------------------------------


def due_times(last: float, now: float, every: float, anchor: float = 0.0) -> list[float]:
    """Due times in (last, now], earliest first."""
    # TODO (part 1): the first due time after ``last`` is the next multiple of ``every``
    # counted from ``anchor`` (not ``last + every``: a scheduler that woke up late must
    # stay on the grid); then every ``every`` seconds while it is not after ``now``.
    raise NotImplementedError("Exercise 3, part 1: list the due times since the last look "
                              "(hint: make hint SESSION=8 EXERCISE=3)")


# --- Part 2 -------------------------------------------------------------------


def plan(due: list[float], now: float, grace: float, policy: str) -> list[float]:
    """The due times to fire now, earliest first."""
    # TODO (part 2): split ``due`` into on time (less than ``grace`` old) and missed.
    # On-time ones always fire. Of the missed ones, "catch_up_once" fires the latest,
    # "skip" fires none.
    raise NotImplementedError("Exercise 3, part 2: apply the misfire policy "
                              "(hint: make hint SESSION=8 EXERCISE=3)")


# --- Part 3 -------------------------------------------------------------------


def firing_id(name: str, due: float) -> str:
    """The same id for the same due time, in every scheduler."""
    # TODO (part 3): built from what every scheduler agrees on (the name and the due
    # time), never from what differs between them (their clock, their name, random).
    raise NotImplementedError("Exercise 3, part 3: make the firing's id "
                              "(hint: make hint SESSION=8 EXERCISE=3)")


def fire(r: Any, name: str, due: float, now: float) -> bool:
    """Enqueue the firing of ``due``; False if it was enqueued before."""
    # TODO (part 3): enqueue under the firing's id with enqueue_once; a repeat is refused.
    raise NotImplementedError("Exercise 3, part 3: fire a due time once "
                              "(hint: make hint SESSION=8 EXERCISE=3)")
