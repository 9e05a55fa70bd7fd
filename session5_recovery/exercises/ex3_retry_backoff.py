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
    # TODO (part 1): the ceiling grows by `factor` with each attempt (attempt 1: base)
    # but never beyond cap; the delay is anywhere from 0 to that ceiling ("full jitter",
    # one call to random()), so a crowd of failed tasks does not retry in step.
    raise NotImplementedError("Exercise 3, part 1: compute the capped exponential and "
                              "apply full jitter (hint: make hint SESSION=5 EXERCISE=3)")


# --- Part 2 -------------------------------------------------------------------


def is_permanent(error: BaseException) -> bool:
    """True if retrying cannot fix ``error``."""
    # TODO (part 2): permanent means retrying cannot fix it: PERMANENT_ERRORS lists them,
    # subclasses included.
    raise NotImplementedError("Exercise 3, part 2: classify the error (hint: make hint SESSION=5 EXERCISE=3)")


def decide(error: BaseException, attempts: int, max_attempts: int) -> str:
    """``"retry"`` or ``"dead_letter"`` after an attempt failed with ``error``."""
    # TODO (part 2): never retry what cannot succeed, even on the first attempt; never
    # go beyond max_attempts; everything else gets another chance.
    raise NotImplementedError("Exercise 3, part 2: retry or dead-letter (hint: make hint SESSION=5 EXERCISE=3)")


# --- Part 3 -------------------------------------------------------------------


def schedule_retry(r: Any, queue: str, task_id: str, delay: float, now: float) -> float:
    """Park ``task_id`` in ``{queue}:delayed`` until ``now + delay``; return that due time."""
    # TODO (part 3): the task waits in the delayed set, ordered by when it is due.
    raise NotImplementedError("Exercise 3, part 3: add the task to the delayed sorted set "
                              "(hint: make hint SESSION=5 EXERCISE=3)")


def promote_due(r: Any, queue: str, now: float) -> list[str]:
    """Move the tasks that are due by ``now`` to ``{queue}:pending``, earliest first."""
    # TODO (part 3): every task due by now goes to pending, earliest first. Rule: with
    # two promoters running at once, each due task is pushed exactly once, never twice.
    raise NotImplementedError("Exercise 3, part 3: move the due tasks to pending "
                              "(hint: make hint SESSION=5 EXERCISE=3)")
