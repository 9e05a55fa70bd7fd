"""Exercise 3: retry a failed task later, with exponential backoff and full jitter.

When a task fails because something outside it is unwell (a database that is
restarting, a rate-limited service), retrying at once makes things worse: a
thousand tasks fail together and hammer the sick service together again. So
each retry waits longer than the last (exponential backoff), never longer than
a cap, and the wait is drawn at random (jitter) so that the crowd spreads out.
"Full jitter" draws the *whole* wait uniformly between 0 and the capped value.

Some errors are not worth a retry at all: a file that is not an image will
not become one. Those go straight to the dead-letter queue.

- Part 1: ``backoff_delay(attempt, base=..., factor=..., cap=..., random=...)``: the
  wait before retrying after failed attempt number ``attempt`` (1, 2, ...):
  ``random() * min(cap, base * factor ** (attempt - 1))``. ``random`` is injected
  (it returns a float in [0, 1)), so tests can fix it.
- Part 2: ``is_permanent(error)`` and ``decide(error, attempts, max_attempts)``:
  an error is permanent if it is one of ``PERMANENT_ERRORS``. ``decide`` returns
  ``"dead_letter"`` for a permanent error or when ``attempts`` (attempts made so
  far, the failed one included) has reached ``max_attempts``; else ``"retry"``.
- Part 3: ``schedule_retry(r, queue, task_id, delay, now)`` puts the task in the
  sorted set ``{queue}:delayed`` with its due time ``now + delay`` as the score
  (and returns that time); ``promote_due(r, queue, now)`` moves every task whose
  due time has come (score <= now) to ``{queue}:pending`` (LPUSH), earliest first,
  and returns their ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from session2_pipeline.core import PipelineInputError


class PermanentTaskError(Exception):
    """The task itself is wrong (bad payload, unknown type): retrying cannot help."""


# Session 2's PipelineInputError covers bad filter parameters, unknown filters,
# files that are not images and paths outside the allowed folder.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (PermanentTaskError, PipelineInputError)


# --- Part 1 -------------------------------------------------------------------


def backoff_delay(attempt: int, *, base: float = 0.5, factor: float = 2.0, cap: float = 30.0,
                  random: Callable[[], float]) -> float:
    """Seconds to wait after failed attempt ``attempt``: full jitter under a capped exponential."""
    ceiling = min(cap, base * factor ** (attempt - 1))
    return random() * ceiling


# --- Part 2 -------------------------------------------------------------------


def is_permanent(error: BaseException) -> bool:
    """True if retrying cannot fix ``error``."""
    return isinstance(error, PERMANENT_ERRORS)


def decide(error: BaseException, attempts: int, max_attempts: int) -> str:
    """``"retry"`` or ``"dead_letter"`` after an attempt failed with ``error``."""
    if is_permanent(error) or attempts >= max_attempts:
        return "dead_letter"
    return "retry"


# --- Part 3 -------------------------------------------------------------------


def schedule_retry(r: Any, queue: str, task_id: str, delay: float, now: float) -> float:
    """Park ``task_id`` in ``{queue}:delayed`` until ``now + delay``; return that due time."""
    due = now + delay
    r.zadd(f"{queue}:delayed", {task_id: due})
    return due


def promote_due(r: Any, queue: str, now: float) -> list[str]:
    """Move the tasks that are due by ``now`` to ``{queue}:pending``, earliest first."""
    promoted = []
    for task_id in r.zrangebyscore(f"{queue}:delayed", "-inf", now):
        # Only the caller whose ZREM removed the id pushes it: two promoters running
        # at once cannot both requeue the same task. (The real queue does this in Lua.)
        if r.zrem(f"{queue}:delayed", task_id):
            r.lpush(f"{queue}:pending", task_id)
            promoted.append(task_id)
    return promoted
