"""A schedule: a name, when (cron or an interval), what (a task), and what to do when late.

``Schedule("nightly", {"type": "noop"}, cron="0 3 * * *")`` fires at 3 a.m.;
``cron="*/2 * * * * *"`` (six fields: the sixth is seconds, croniter's
convention) every two seconds; ``every=300`` every five minutes, at multiples of
300 s since ``anchor`` (default 0, the Unix epoch), so every scheduler computes the
same due times whenever it started.

A due time is *on time* while it is less than ``misfire_grace`` seconds old; older
ones were *missed* (no scheduler was running, or the queue's server was away).
``misfire`` says what happens to missed ones: ``"catch_up_once"`` fires the most
recent missed one, once, however many were missed (a nightly report that was
missed for a week runs once, not seven times); ``"skip"`` fires none of them.
``plan_firings`` is that rule, as a pure function the tests drive with any clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from croniter import CroniterError, croniter

from session5_recovery.workers.task import as_json_object

SCHEDULE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")
MISFIRE_POLICIES = ("catch_up_once", "skip")
# On-time due times handled per tick and schedule: a one-second schedule with a
# long grace cannot make one tick enqueue without end.
MAX_ON_TIME = 1000


class ScheduleError(ValueError):
    """A schedule that cannot work as given; nothing was written."""


@dataclass(frozen=True)
class Schedule:
    name: str
    task: dict[str, Any]
    cron: str | None = None
    every: float | None = None
    anchor: float = 0.0
    misfire: str = "catch_up_once"
    misfire_grace: float = 5.0
    until: float | None = None  # no firings after this time (None: for ever)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not SCHEDULE_NAME.fullmatch(self.name):
            raise ScheduleError(f"a schedule name is 1-80 letters, digits, '.', '-' or '_'; got "
                                f"{self.name!r}")
        if (self.cron is None) == (self.every is None):
            raise ScheduleError(f"schedule {self.name!r}: give exactly one of cron= (e.g. "
                                f"'*/5 * * * *') and every= (seconds)")
        if self.cron is not None:
            try:
                croniter(self.cron, 0)
            except (CroniterError, ValueError, TypeError, KeyError) as error:
                raise ScheduleError(f"schedule {self.name!r}: invalid cron expression "
                                    f"{self.cron!r} ({error}); five fields, or six with seconds "
                                    f"last, e.g. '*/5 * * * *'") from None
        else:
            if not _number(self.every) or not 0.01 <= self.every <= 366 * 86400:
                raise ScheduleError(f"schedule {self.name!r}: every= must be a number of seconds "
                                    f"from 0.01 to a year, got {self.every!r}")
        if not _number(self.anchor):
            raise ScheduleError(f"schedule {self.name!r}: anchor must be a Unix time, got "
                                f"{self.anchor!r}")
        if self.misfire not in MISFIRE_POLICIES:
            raise ScheduleError(f"schedule {self.name!r}: misfire must be one of "
                                f"{', '.join(MISFIRE_POLICIES)}; got {self.misfire!r}")
        if not _number(self.misfire_grace) or self.misfire_grace < 0:
            raise ScheduleError(f"schedule {self.name!r}: misfire_grace must be >= 0 seconds, "
                                f"got {self.misfire_grace!r}")
        if self.until is not None and not _number(self.until):
            raise ScheduleError(f"schedule {self.name!r}: until must be a Unix time, got "
                                f"{self.until!r}")
        try:
            object.__setattr__(self, "task", as_json_object(self.task, f"schedule {self.name!r}'s task"))
        except (TypeError, ValueError) as error:
            raise ScheduleError(str(error)) from None

    def check_not_over(self, now: float) -> None:
        """ScheduleError if the schedule can never fire again (``until`` in the past)."""
        if self.until is not None and self.until <= now:
            raise ScheduleError(f"schedule {self.name!r} is in the past: until={self.until:.0f} "
                                f"is {now - self.until:.0f} s ago, so it would never fire; move "
                                f"until into the future or leave it out")

    # --- due times -------------------------------------------------------------------

    def next_after(self, t: float) -> float:
        """The first due time strictly after ``t``."""
        if self.every is not None:
            k = math.floor((t - self.anchor) / self.every) + 1
            due = self.anchor + k * self.every
            return due if due > t else due + self.every
        return croniter(self.cron, t).get_next(float)

    def latest_at_or_before(self, t: float) -> float:
        """The last due time at or before ``t``."""
        if self.every is not None:
            return self.anchor + math.floor((t - self.anchor) / self.every) * self.every
        return croniter(self.cron, math.floor(t) + 1).get_prev(float)  # cron times are whole seconds

    def due_between(self, after: float, until: float) -> Iterator[float]:
        """Due times in (``after``, ``until``], earliest first (at most MAX_ON_TIME)."""
        t = after
        for _ in range(MAX_ON_TIME):
            t = self.next_after(t)
            if t > until or (self.until is not None and t > self.until):
                return
            yield t

    def task_id(self, due: float) -> str:
        """The id of the firing for ``due``: the same in every scheduler, so a repeat is refused."""
        return f"sched:{self.name}:{round(due * 1000)}"

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "cron": self.cron, "every": self.every,
                "anchor": self.anchor, "misfire": self.misfire,
                "misfire_grace": self.misfire_grace, "until": self.until}

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> Schedule:
        if not isinstance(spec, dict):
            raise ScheduleError(f"a schedule is a JSON object with name, task and cron or every; "
                                f"got {spec!r:.60}")
        known = {"name", "task", "cron", "every", "anchor", "misfire", "misfire_grace", "until"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ScheduleError(f"schedule {spec.get('name')!r}: unknown field(s) {unknown}; "
                                f"allowed: {sorted(known)}")
        if "name" not in spec or "task" not in spec:
            raise ScheduleError(f"a schedule needs 'name' and 'task'; got the fields {sorted(spec)}")
        return cls(**spec)


def plan_firings(schedule: Schedule, last: float, now: float) -> tuple[list[float], float | None]:
    """(due times to fire now, the latest due time handled) since ``last`` up to ``now``.

    On-time due times (less than ``misfire_grace`` old) fire; missed ones follow
    the misfire policy. The second value is what the scheduler records as
    handled (None: nothing fell due), so the next tick starts after it.
    """
    horizon = now - schedule.misfire_grace
    fire: list[float] = []
    handled: float | None = None
    missed = schedule.latest_at_or_before(horizon) if horizon > last else None
    if missed is not None and missed > last and (schedule.until is None or missed <= schedule.until):
        handled = missed
        if schedule.misfire == "catch_up_once":
            fire.append(missed)
    for due in schedule.due_between(max(last, horizon) if missed is not None else last, now):
        if due <= last:
            continue
        fire.append(due)
        handled = due
    return fire, handled


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
