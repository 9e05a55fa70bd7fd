"""Exercise 3: the autoscaler's decision, as a pure function.

How many workers should run now? The signals are the ones KEDA's Redis scaler
uses: the backlog (pending tasks) and the age of the oldest pending task.

- Part 1: ``wanted(backlog, oldest_age, current, per_worker, max_age, low, high)``:
  ``ceil(backlog / per_worker)``; if the oldest task has waited more than
  ``max_age`` (and something is pending), at least ``current + 1``; always within
  ``[low, high]``.
- Part 2: ``decide(backlog, oldest_age, current, busy, now, last_change, *,
  per_worker, max_age, low, high, cooldown)``: up at once to ``wanted``; down only
  once ``cooldown`` seconds have passed since ``last_change``, and never below
  ``busy`` (only idle workers are stopped); otherwise stay at ``current``.
"""

from __future__ import annotations

import math


def wanted(backlog: int, oldest_age: float, current: int, per_worker: int, max_age: float,
           low: int, high: int) -> int:
    target = math.ceil(backlog / per_worker)
    if backlog > 0 and oldest_age > max_age:
        target = max(target, current + 1)
    return min(high, max(low, target))


def decide(backlog: int, oldest_age: float, current: int, busy: int, now: float,
           last_change: float, *, per_worker: int, max_age: float, low: int, high: int,
           cooldown: float) -> int:
    target = wanted(backlog, oldest_age, current, per_worker, max_age, low, high)
    if target >= current:
        return target
    if now - last_change < cooldown:
        return current
    return max(target, busy)
