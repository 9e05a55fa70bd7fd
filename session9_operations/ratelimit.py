"""Rate limits per task type, global across every worker of a queue.

"At most 10 ``email`` tasks a minute" must hold however many workers run: a limit
kept in each worker's memory (Celery's ``rate_limit``) lets four workers start 40.
So the limit and the record of recent starts live in Redis, and the check and the
record are one Lua script (ratelimit.lua): two workers asking at the same moment
cannot both take the last slot.

The algorithm is a sliding-window log: a sorted set of the start times in the last
``per`` seconds. It is exact (never more than ``limit`` starts in *any* window of
``per`` seconds, which a fixed window per minute does not promise: 10 at 12:00:59
and 10 more at 12:01:00 are 20 in two seconds) at a cost of one entry per start.

A worker asks at claim time (``OperationsWorker``): over the limit, the task goes
back to the delayed set, due when the oldest start leaves the window, and the
attempt its claim counted is given back: waiting for a slot is not a failure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from session5_recovery.workers import QueueKeys, RedisTaskQueue

RATELIMIT_LUA = Path(__file__).with_name("ratelimit.lua").read_text(encoding="utf-8")


# When the limiter admitted the task running now (None: no limit applied). The limit
# is a promise about admissions; a handler that starts a few milliseconds later (the
# worker's own scheduling) is measured against it in the tests.
ADMITTED_AT: ContextVar[float | None] = ContextVar("admitted_at", default=None)


class RateLimitError(ValueError):
    """A limit that cannot be enforced (0 or negative, a window that is not a time)."""


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` starts of one task type in any ``per`` seconds."""

    limit: int
    per: float

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise RateLimitError(
                f"a rate limit must allow at least 1 task per window, got limit={self.limit!r}; "
                f"to stop a task type altogether, pause the queue instead")
        if (isinstance(self.per, bool) or not isinstance(self.per, (int, float))
                or not math.isfinite(self.per) or self.per <= 0):
            raise RateLimitError(f"a rate limit's window must be a positive number of seconds, "
                                 f"got per={self.per!r}")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"10/m"``, ``"5/s"``, ``"100/h"`` or ``"3/2.5"`` (3 per 2.5 seconds)."""
        count, slash, window = text.partition("/")
        units = {"s": 1.0, "m": 60.0, "h": 3600.0}
        try:
            if not slash:
                raise ValueError
            limit, per = int(count), units[window] if window in units else float(window)
        except ValueError:
            raise RateLimitError(f"a rate limit is written COUNT/WINDOW, e.g. 10/m, 5/s or "
                                 f"3/2.5 (seconds); got {text!r}") from None
        return cls(limit, per)

    def encode(self) -> str:
        return f"{self.limit} {self.per!r}"


@dataclass(frozen=True)
class Verdict:
    """What the limiter said: ``outcome`` is allowed, unlimited, limited/deferred or not_mine."""

    outcome: str
    # "allowed": the moment of admission; "limited"/"deferred": when the window has room.
    at: float | None = None

    @property
    def may_start(self) -> bool:
        return self.outcome in ("allowed", "unlimited")


def limits_key(keys: QueueKeys) -> str:
    return f"{keys.prefix}ratelimits"


def starts_key(keys: QueueKeys, task_type: str) -> str:
    return f"{keys.prefix}ratelimit:{task_type}"


def starts_pattern(keys: QueueKeys) -> str:
    """SCAN pattern of every task type's window (for ``clear``)."""
    return starts_key(keys, "*")


class RateLimiter:
    """The limits of one queue, kept in Redis; ``set("email", RateLimit(10, 60))``."""

    def __init__(self, queue: RedisTaskQueue, *, clock: Callable[[], float] | None = None) -> None:
        self.queue = queue
        self.keys = queue.keys
        self.clock = clock or queue.settings.clock
        self._script = queue.client.register_script(RATELIMIT_LUA)

    def set(self, task_type: str, limit: RateLimit) -> None:
        if not isinstance(limit, RateLimit):
            raise RateLimitError(f"expected a RateLimit(limit, per), got {limit!r}")
        self.queue.client.hset(limits_key(self.keys), task_type, limit.encode())

    def remove(self, task_type: str) -> None:
        self.queue.client.hdel(limits_key(self.keys), task_type)
        self.queue.client.delete(starts_key(self.keys, task_type))

    def limits(self) -> dict[str, RateLimit]:
        raw = self.queue.client.hgetall(limits_key(self.keys))
        found = {}
        for kind, spec in raw.items():
            count, window = str(spec).split()
            found[str(kind)] = RateLimit(int(count), float(window))
        return found

    def acquire(self, task_type: str, member: str) -> Verdict:
        """Record one start of ``task_type`` if the window has room (no task moved)."""
        reply = self._script(keys=[limits_key(self.keys), starts_key(self.keys, task_type)],
                             args=["acquire", repr(self.clock()), task_type, member])
        return _verdict(reply)

    def acquire_or_defer(self, task_type: str, task_id: str, attempt: int,
                         worker_id: str) -> Verdict:
        """The claim-time check: start, or back to the delayed set with the attempt refunded."""
        keys = [limits_key(self.keys), starts_key(self.keys, task_type),
                self.keys.processing(worker_id), self.keys.task(task_id), self.keys.delayed,
                self.keys.events]
        reply = self._script(keys=keys, args=[
            "acquire_or_defer", repr(self.clock()), task_type, f"{task_id}/{attempt}",
            worker_id, task_id, self.queue.settings.events_maxlen])
        return _verdict(reply)


def _verdict(reply: list[Any]) -> Verdict:
    outcome = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
    return Verdict(outcome, float(reply[1]) if len(reply) > 1 else None)


def max_starts_in_any_window(starts: list[float], window: float) -> int:
    """The most starts inside any half-open interval [t, t + window): what a limit promises.

    Two pointers over the sorted times; the windows that matter start at a start.
    """
    ordered, most, left = sorted(starts), 0, 0
    for right, t in enumerate(ordered):
        while t - ordered[left] >= window:
            left += 1
        most = max(most, right - left + 1)
    return most
