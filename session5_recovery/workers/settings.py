"""Every interval, TTL and retry parameter of the queue, in one place.

A worker, the reaper and the monitor all take a ``RecoverySettings``. The
defaults suit a demo on one machine: a worker that stops sending heartbeats is
declared dead about five seconds later. Tests pass much shorter values and a
fake clock, so recovery scenarios run in a fraction of a second.

Why the numbers relate the way they do:

- ``heartbeat_ttl`` must be several ``heartbeat_interval``\\ s: one late beat
  (a busy machine, a garbage-collection pause) must not get a live worker
  declared dead. Five intervals is the usual margin; we refuse less than two.
- Recovery takes between ``heartbeat_ttl - heartbeat_interval`` and
  ``heartbeat_ttl + reap_interval`` after a worker dies: its key has to
  expire, then some reaper has to notice.
- Retries wait ``random() * min(backoff_cap, backoff_base * backoff_factor ** (n - 1))``
  seconds before attempt ``n + 1`` ("full jitter"), so a thousand tasks that failed
  together do not all come back at the same instant.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Limits that keep a setting workable. Below MIN_SECONDS a heartbeat competes with the
# scheduler's own jitter (a 0.02 s TTL declared healthy workers dead over a thousand
# times a minute); above MAX_SECONDS (a day) a dead worker's task waits longer than
# anyone would; inf and nan are never a duration.
MIN_SECONDS = 0.01
MAX_SECONDS = 86_400.0
SECONDS_ALLOWED = {
    "heartbeat_interval": (MIN_SECONDS, 3_600.0),
    "heartbeat_ttl": (0.2, MAX_SECONDS),  # with the check below: at least 2 intervals
}


# How long a completed task (and its result) stays by default: one hour. RQ keeps a
# result 500 s, Celery's result backend one day, BullMQ everything unless told
# (removeOnComplete). An hour is long enough for a person, a demo or a polling client
# to read a result after a burst, and short enough that a queue draining a hundred
# tasks a second holds about 360,000 finished tasks (about 150 MB), not every task it
# ever ran. Session 6 keeps its own rows in its database, so its API still answers
# for an expired task.
DEFAULT_RESULT_TTL = 3600.0


@dataclass(frozen=True)
class RecoverySettings:
    """The knobs of heartbeats, recovery and retries, with their defaults (seconds)."""

    heartbeat_interval: float = 1.0  # how often a worker's heartbeat thread writes
    heartbeat_ttl: float = 5.0  # a heartbeat not refreshed for this long expires: worker dead
    reap_interval: float = 1.0  # how often each worker runs the reaper and promotes due retries
    claim_timeout: float = 1.0  # one blocking claim waits at most this long (then the loop
    # looks at its stop flag and, in burst mode, whether the queue is drained)
    max_attempts: int = 3  # attempts per task before the DLQ (stored on each task at enqueue)
    backoff_base: float = 0.5  # the first retry waits up to this long
    backoff_factor: float = 2.0  # each further retry may wait this many times longer
    backoff_cap: float = 30.0  # no retry waits longer than this
    events_maxlen: int = 10_000  # the event stream keeps about this many entries
    reconnect_cap: float = 5.0  # longest pause between attempts to reach a Redis that is down
    # One attempt may run this long before it is interrupted and counted as failed
    # (None: no limit). A task type can set its own in the handler registry.
    task_time_limit: float | None = 600.0
    # Retention (README, "Retention"). A completed task, its result with it, is deleted
    # this long after it completed (None: kept until someone deletes it); see
    # DEFAULT_RESULT_TTL for the choice. ``keep_completed`` also deletes the oldest
    # completed tasks beyond that many (None: no count limit). A dead-lettered task waits
    # for a person: kept until replayed or purged, unless ``failure_ttl`` is set.
    result_ttl: float | None = DEFAULT_RESULT_TTL
    keep_completed: int | None = None
    failure_ttl: float | None = None
    # The key of a Redis hash where the worker records each run of a task just before the
    # handler starts (one field "<task id> <run id>" per run; RedisTaskQueue.run_counts()
    # counts them): how tests, the chaos suite and the benchmark check "no task ran twice"
    # by counting executions, not completions. None: off.
    run_ledger: str | None = None
    # Injectable for tests: "now" in seconds, and a uniform random number in [0, 1).
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("heartbeat_interval", "heartbeat_ttl", "reap_interval", "claim_timeout",
                     "backoff_base", "backoff_cap", "reconnect_cap"):
            value = getattr(self, name)
            low, high = SECONDS_ALLOWED.get(name, (MIN_SECONDS, MAX_SECONDS))
            # `not low <= value <= high` is also true for NaN, which compares false to all.
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not low <= value <= high:
                raise ValueError(f"{name} must be a positive number of seconds from {low:g} to "
                                 f"{high:g}, got {value!r}")
        limit = self.task_time_limit
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))
                                  or not MIN_SECONDS <= limit <= 7 * MAX_SECONDS):
            raise ValueError(f"task_time_limit must be None (no limit) or seconds from "
                             f"{MIN_SECONDS:g} to {7 * MAX_SECONDS:g}, got {limit!r}")
        for name in ("result_ttl", "failure_ttl"):
            ttl = getattr(self, name)
            if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float))
                                    or not 0 < ttl <= 365 * MAX_SECONDS):
                raise ValueError(f"{name} must be None (keep) or a positive number of seconds "
                                 f"up to a year, got {ttl!r}")
        keep = self.keep_completed
        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 0):
            raise ValueError(f"keep_completed must be None (no limit) or an integer >= 0, "
                             f"got {keep!r}")
        if self.heartbeat_ttl < 2 * self.heartbeat_interval:
            raise ValueError(
                f"heartbeat_ttl ({self.heartbeat_ttl} s) must be at least twice "
                f"heartbeat_interval ({self.heartbeat_interval} s), or a single late heartbeat "
                f"gets a live worker declared dead; about 5x is usual"
            )
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"max_attempts must be an integer >= 1, got {self.max_attempts!r}")
        if self.backoff_factor < 1:
            raise ValueError(f"backoff_factor must be >= 1, got {self.backoff_factor!r}")
        if self.run_ledger is not None and (not isinstance(self.run_ledger, str)
                                            or not self.run_ledger):
            raise ValueError(f"run_ledger must be None or a Redis key name, got {self.run_ledger!r}")
        if not isinstance(self.events_maxlen, int) or self.events_maxlen < 100:
            raise ValueError(f"events_maxlen must be an integer >= 100, got {self.events_maxlen!r}")

    @property
    def heartbeat_ttl_ms(self) -> int:
        """The TTL in milliseconds, as ``SET ... PX`` wants it."""
        return max(1, round(self.heartbeat_ttl * 1000))

    def to_dict(self) -> dict[str, Any]:
        """The numbers only (no clock or random), JSON-ready: what a child process is given."""
        return {k: v for k, v in asdict(self).items() if k not in ("clock", "random")}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RecoverySettings:
        """Rebuild settings from ``to_dict()``; unknown names are an error, not ignored."""
        known = {f.name for f in fields(cls)} - {"clock", "random"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; the settings are {sorted(known)}")
        return cls(**values)

    def replace(self, **changes: Any) -> RecoverySettings:
        """A copy with some values changed (the dataclass is frozen)."""
        from dataclasses import replace

        return replace(self, **changes)


def backoff_delay(attempt: int, settings: RecoverySettings) -> float:
    """Seconds to wait before retrying after failed attempt number ``attempt`` (1, 2, ...).

    Exponential growth, capped, with *full jitter*: a uniform random value
    between 0 and the capped exponential. Adding a little jitter to a fixed
    delay still sends a crowd back together; drawing the whole delay at random
    spreads it out (see README, "Retries").
    """
    if attempt < 1:
        raise ValueError(f"attempt numbers start at 1, got {attempt}")
    ceiling = min(settings.backoff_cap, settings.backoff_base * settings.backoff_factor ** (attempt - 1))
    return settings.random() * ceiling
