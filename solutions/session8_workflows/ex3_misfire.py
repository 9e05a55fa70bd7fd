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

import math
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
    k = math.floor((last - anchor) / every) + 1
    due = []
    while anchor + k * every <= now:
        due.append(anchor + k * every)
        k += 1
    return due


# --- Part 2 -------------------------------------------------------------------


def plan(due: list[float], now: float, grace: float, policy: str) -> list[float]:
    """The due times to fire now, earliest first."""
    on_time = [d for d in due if now - d < grace]
    missed = [d for d in due if now - d >= grace]
    if policy == "catch_up_once" and missed:
        return [missed[-1], *on_time]
    return on_time


# --- Part 3 -------------------------------------------------------------------


def firing_id(name: str, due: float) -> str:
    """The same id for the same due time, in every scheduler."""
    return f"sched:{name}:{round(due * 1000)}"


def fire(r: Any, name: str, due: float, now: float) -> bool:
    """Enqueue the firing of ``due``; False if it was enqueued before."""
    return enqueue_once(r, firing_id(name, due), f'{{"schedule": "{name}", "due": {due}}}')
