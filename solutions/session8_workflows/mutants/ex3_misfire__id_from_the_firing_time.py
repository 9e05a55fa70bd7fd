"""Mistake: the firing's id is made from the moment it fired, not from its due time.

Two schedulers firing one due time at different moments make two ids: both run.

Rejected by:
    test_ex3_misfire.py::TestPart3_fire_once::test_two_schedulers_firing_one_due_time_run_it_once
"""

from __future__ import annotations

import math
from typing import Any

QUEUE = "ex3"


def enqueue_once(r: Any, task_id: str, data: str) -> bool:
    if not r.set(f"{QUEUE}:task:{task_id}", data, nx=True):
        return False
    r.rpush(f"{QUEUE}:pending", task_id)
    return True


def due_times(last: float, now: float, every: float, anchor: float = 0.0) -> list[float]:
    k = math.floor((last - anchor) / every) + 1
    due = []
    while anchor + k * every <= now:
        due.append(anchor + k * every)
        k += 1
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
    return enqueue_once(r, firing_id(name, now), f'{{"schedule": "{name}", "due": {due}}}')
