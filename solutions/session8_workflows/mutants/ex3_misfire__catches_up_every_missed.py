"""Mistake: every missed due time fires (a week of missed nightly reports runs seven times).

Rejected by:
    test_ex3_misfire.py::TestPart2_plan::test_catch_up_once_fires_the_latest_missed_once
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
    if policy == "catch_up_once":
        return list(due)
    return [d for d in due if now - d < grace]


def firing_id(name: str, due: float) -> str:
    return f"sched:{name}:{round(due * 1000)}"


def fire(r: Any, name: str, due: float, now: float) -> bool:
    return enqueue_once(r, firing_id(name, due), f'{{"schedule": "{name}", "due": {due}}}')
