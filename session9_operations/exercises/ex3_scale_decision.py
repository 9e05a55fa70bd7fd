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

import math  # noqa: F401 (you will need it)


def wanted(backlog: int, oldest_age: float, current: int, per_worker: int, max_age: float,
           low: int, high: int) -> int:
    # TODO Part 1: workers for the backlog (rounded up), one more than now when the oldest
    # pending task is too old, clamped to [low, high].
    raise NotImplementedError("Exercise 3, part 1: how many workers the signals ask for "
                              "(hint: make hint SESSION=9 EXERCISE=3)")


def decide(backlog: int, oldest_age: float, current: int, busy: int, now: float,
           last_change: float, *, per_worker: int, max_age: float, low: int, high: int,
           cooldown: float) -> int:
    # TODO Part 2: scale up at once; scale down only after the cooldown and never below
    # the busy workers; otherwise keep `current`.
    raise NotImplementedError("Exercise 3, part 2: up at once, down with care "
                              "(hint: make hint SESSION=9 EXERCISE=3)")
