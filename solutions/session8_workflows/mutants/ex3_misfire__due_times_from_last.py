"""Mistake: due times are counted from the last look (last + every), not from the anchor.

A scheduler that looked late drifts off the grid, and two schedulers make
different due times (and ids) for the same firing.

Rejected by:
    test_ex3_misfire.py::TestPart1_due_times::test_a_late_look_stays_on_the_grid
"""

from __future__ import annotations

from typing import Any

QUEUE = "ex3"


def enqueue_once(r: Any, task_id: str, data: str) -> bool:
    if not r.set(f"{QUEUE}:task:{task_id}", data, nx=True):
        return False
    r.rpush(f"{QUEUE}:pending", task_id)
    return True


def due_times(last: float, now: float, every: float, anchor: float = 0.0) -> list[float]:
    due = []
    t = last + every
    while t <= now:
        due.append(t)
        t += every
    return due


def plan(due: list[float], now: float, grace: float, policy: str) -> list[float]:
    on_time = [d for d in due if now - d < grace]
    missed = [d for d in due if now - d >= grace]
    if policy == "catch_up_once" and missed:
        return [missed[-1], *on_time]
    return on_time


def firing_id(name: str, due: float) -> str:
    return f"sched:{name}:{round(due * 1000)}"


def fire(r: Any, name: str, due: float, now: float) -> bool:
    return enqueue_once(r, firing_id(name, due), f'{{"schedule": "{name}", "due": {due}}}')
