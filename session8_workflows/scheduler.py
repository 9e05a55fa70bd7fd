"""The scheduler: one leader at a time, and every due time enqueued under one id.

Run several (``python -m session8_workflows scheduler`` on several hosts): they
compete for a *lease*, a Redis key holding the leader's random token with a
TTL. Only the leader fires schedules, renewing the lease at every tick; if it
dies (``kill -9``), the key expires and another takes over within one TTL.

The lease alone cannot prevent doubles: a leader frozen past its TTL (a GC
pause, SIGSTOP, a slow disk) wakes up believing it still leads, and two leaders
fire the same due time. So the lease is *fenced* like session 5's heartbeat
(the step that records "handled up to here" refuses a token that is no longer
the leader's), and, what actually prevents the double, each firing is enqueued
under the id ``sched:<name>:<due time in ms>``: session 5 refuses an id it already
holds, so a second scheduler, a zombie leader or a restart firing the same due
time is told "duplicate" and nothing runs twice. Idempotency, not luck.

Pausing the queue does not stop the scheduler: firings go on being enqueued
into pending and wait there; on resume they run, oldest first (a schedule that
must not pile up should say so in its task, or use ``misfire="skip"`` with a
scheduler that is stopped while the queue is paused).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import redis

from session5_recovery.workers import DuplicateTaskError

from .schedules import Schedule, ScheduleError, plan_firings
from .workflow_queue import WorkflowQueue

DEFAULT_LEASE_TTL = 5.0
DEFAULT_TICK = 0.5


class LeaderLease:
    """A lease in Redis: ``{q}:s8:scheduler:leader`` = our token, ``PX`` = the TTL.

    Redis's clock decides when it expires (as for session 5's heartbeats): no two
    machines' clocks are compared. ``hold()`` takes the lease if it is free and
    renews it if it is ours; it returns whether we lead now.
    """

    def __init__(self, queue: WorkflowQueue, who: str, ttl: float = DEFAULT_LEASE_TTL) -> None:
        if not (isinstance(ttl, (int, float)) and 0.1 <= ttl <= 3600):
            raise ValueError(f"lease ttl must be between 0.1 and 3600 seconds, got {ttl!r}")
        self.queue = queue
        self.who = who
        self.token = f"{who}:{uuid.uuid4().hex}"  # unique even if two schedulers share a name
        self.ttl_ms = int(ttl * 1000)
        self.leading = False

    def hold(self) -> bool:
        keys = [self.queue.s8.leader]
        if self.leading:
            reply = self.queue.s8_call("lease_renew", keys, self.token, self.ttl_ms)
            self.leading = reply[0] == "renewed"
            if self.leading:
                return True
        reply = self.queue.s8_call("lease_acquire", [*keys, self.queue.keys.events], self.token,
                                   self.ttl_ms, self.who)
        self.leading = reply[0] == "leader"
        return self.leading

    def release(self) -> bool:
        released = self.queue.s8_call("lease_release", [self.queue.s8.leader], self.token)[1]
        self.leading = False
        return bool(int(released))

    def holder(self) -> str | None:
        return self.queue.client.get(self.queue.s8.leader)


@dataclass
class TickReport:
    """What one tick did."""

    leader: bool
    fired: list[str] = field(default_factory=list)  # task ids enqueued now
    refused: list[str] = field(default_factory=list)  # already enqueued (by someone else)


class Scheduler:
    """Fires ``schedules`` into ``queue`` while it holds the lease.

    ``clock`` (default: the queue's settings' clock) gives the time due times are
    compared with; tests pass a fake one and call ``tick()`` themselves.
    """

    def __init__(self, queue: WorkflowQueue, schedules: Sequence[Schedule], *,
                 scheduler_id: str | None = None, lease_ttl: float = DEFAULT_LEASE_TTL,
                 tick_interval: float = DEFAULT_TICK, clock: Callable[[], float] | None = None,
                 log: Callable[[str], None] | None = print) -> None:
        self.lease = LeaderLease(queue, scheduler_id or f"{socket.gethostname()}-{os.getpid()}",
                                 lease_ttl)  # checks lease_ttl first
        names = [s.name for s in schedules]
        if len(set(names)) != len(names):
            raise ScheduleError(f"two schedules share a name: {sorted(names)}; a name is an id")
        if not (isinstance(tick_interval, (int, float)) and 0.01 <= tick_interval < lease_ttl / 2):
            raise ValueError(f"tick_interval must be at least 0.01 s and under half the lease "
                             f"TTL ({lease_ttl} s), so the lease is renewed in time; got "
                             f"{tick_interval!r}")
        self.queue = queue
        self.clock = clock or queue.settings.clock
        now = self.clock()
        for schedule in schedules:
            schedule.check_not_over(now)
        self.schedules = list(schedules)
        self.id = self.lease.who
        self.tick_interval = tick_interval
        self._log = log
        self.stats = {"ticks": 0, "fired": 0, "refused": 0, "terms": 0}

    def tick(self) -> TickReport:
        """One round: hold the lease; if leader, fire what is due and promote delayed tasks."""
        was_leading = self.lease.leading
        if not self.lease.hold():
            if was_leading:
                self._say(f"lost the lease to {self.lease.holder()}: no longer firing")
            return TickReport(leader=False)
        if not was_leading:
            self.stats["terms"] += 1
            self._say("leader: I hold the lease now")
            self._register()
        report = TickReport(leader=True)
        for schedule in self.schedules:
            if not self._fire(schedule, report):
                break  # the lease was lost mid-tick: stop firing at once
        self.queue.promote_due()
        self.stats["ticks"] += 1
        return report

    def _register(self) -> None:
        """Publish the schedules (for ``show``) and start new ones at now: no past firings."""
        now = self.clock()
        pipe = self.queue.client.pipeline(transaction=False)
        for schedule in self.schedules:
            pipe.hset(self.queue.s8.schedules, schedule.name, json.dumps(schedule.as_json()))
            pipe.hsetnx(self.queue.s8.last_due, schedule.name, repr(now))
        pipe.execute()

    def _fire(self, schedule: Schedule, report: TickReport) -> bool:
        last = self.queue.client.hget(self.queue.s8.last_due, schedule.name)
        if last is None:  # registered by an older leader, then deleted by hand: start now
            self._register()
            return True
        due_times, handled = plan_firings(schedule, float(last), self.clock())
        if handled is None:
            return True
        for due in due_times:
            task_id = schedule.task_id(due)
            data = {**schedule.task, "schedule": {"name": schedule.name, "due": due}}
            try:
                self.queue.add_task(data, task_id=task_id)
            except DuplicateTaskError:
                report.refused.append(task_id)
                self.stats["refused"] += 1
                continue
            report.fired.append(task_id)
            self.stats["fired"] += 1
        reply = self.queue.s8_call("mark_fired", [self.queue.s8.leader, self.queue.s8.last_due],
                                   self.lease.token, schedule.name, repr(handled))
        if reply[0] == "not_leader":
            self.lease.leading = False
            self._say("lease lost while firing: stopping (what I enqueued is safe: ids are unique)")
            return False
        return True

    def run(self, stop: threading.Event | None = None, *, max_ticks: int | None = None) -> None:
        """Tick every ``tick_interval`` until ``stop`` is set; release the lease at the end."""
        stop = stop or threading.Event()
        ticks = 0
        try:
            while not stop.is_set() and (max_ticks is None or ticks < max_ticks):
                try:
                    self.tick()
                except (redis.ConnectionError, redis.TimeoutError) as error:
                    self.lease.leading = False  # we cannot know: act as a follower until it answers
                    self._say(f"Redis is unreachable ({error}); retrying")
                ticks += 1
                stop.wait(self.tick_interval)
        finally:
            try:
                if self.lease.leading and self.lease.release():
                    self._say("released the lease")
            except redis.RedisError:
                pass

    def _say(self, line: str) -> None:
        if self._log is not None:
            self._log(f"[scheduler {self.id}] {time.strftime('%H:%M:%S')} {line}")
