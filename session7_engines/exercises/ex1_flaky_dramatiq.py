"""Exercise 1: port session 5's flaky task to Dramatiq, with retries and backoff.

Session 5's ``{"type": "fail", "times": 2}`` task fails its first 2 attempts and
then succeeds; our queue retried it with exponential backoff and full jitter and,
past ``max_attempts``, parked it in the dead-letter queue. Dramatiq does all of
that for you, through options on the actor (its ``Retries`` middleware), once you
say what you want:

- Part 1: ``retry_options(max_retries, min_backoff_ms, max_backoff_ms)``: the actor
  options, as a dict, that give session 5's policy: a transient error is retried up to
  ``max_retries`` times with a backoff between the two bounds, and a
  ``PermanentTaskError`` is never retried (a bad payload will not get better). The
  names are the ones Dramatiq's ``Retries`` middleware reads: its documentation lists
  them, and says which unit it counts time in.
- Part 2: ``attempt_number()``: inside an actor, which attempt is this (1 for the
  first run)? The actor's arguments do not say; the message being processed knows how
  many times it has been retried, and one of the middleware the broker runs can give
  you that message. The first run must not be an error.
- Part 3: ``declare_flaky(broker, runs)``: declare the actor ``flaky(task_id, times)``
  on ``broker`` (not the global broker), with part 1's policy and a backoff of 10 to
  50 ms. Each run appends ``(task_id, attempt)`` to ``runs``, failed runs too; then it
  raises ``TransientTaskError`` while ``attempt <= times``, raises
  ``PermanentTaskError`` if ``times`` is negative, and otherwise returns
  ``{"task_id": task_id, "attempts": attempt}``.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage  # noqa: F401  (you will need it in part 2)


class TransientTaskError(RuntimeError):
    """A failure worth a retry."""


class PermanentTaskError(Exception):
    """A failure no retry can fix: dead-letter at once."""


# --- Part 1 -------------------------------------------------------------------


def retry_options(max_retries: int = 3, min_backoff_ms: int = 100,
                  max_backoff_ms: int = 2000) -> dict[str, Any]:
    """The actor options that give session 5's retry policy."""
    # TODO (part 1): the options Dramatiq's Retries middleware reads, so that transient
    # errors are retried with backoff and a PermanentTaskError is never retried.
    raise NotImplementedError("Exercise 1, part 1: return Dramatiq's retry options "
                              "(hint: make hint SESSION=7 EXERCISE=1)")


# --- Part 2 -------------------------------------------------------------------


def attempt_number() -> int:
    """1 on the first run of the current message, 2 on its first retry, ..."""
    # TODO (part 2): 1 on the first run of the message being processed, 2 on its first
    # retry, and so on; the first run must not be an error.
    raise NotImplementedError("Exercise 1, part 2: read the retry count of the current "
                              "message (hint: make hint SESSION=7 EXERCISE=1)")


# --- Part 3 -------------------------------------------------------------------


def declare_flaky(broker: dramatiq.Broker, runs: list) -> dramatiq.Actor:
    """The flaky task as a Dramatiq actor on ``broker``."""
    # TODO (part 3): the actor "flaky" on this broker (not the global one), with the
    # retry policy of part 1 (10 to 50 ms backoff); every run is recorded in `runs`,
    # even the ones that fail.
    raise NotImplementedError("Exercise 1, part 3: declare the flaky actor "
                              "(hint: make hint SESSION=7 EXERCISE=1)")
