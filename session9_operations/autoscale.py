"""Autoscaling workers on the two signals KEDA's Redis scaler uses: backlog and age.

Two parts, kept apart so the interesting one is testable without processes:

- ``decide(signals, policy, state, now)``: a pure function. How many workers
  should there be? ``ceil(backlog / tasks_per_worker)``, one more than now if the
  oldest pending task has waited longer than ``max_age``, within ``[min, max]``.
  Up at once (a backlog is users waiting); down only after ``cooldown`` seconds
  without a change, and never below the number of busy workers: only idle workers
  are stopped (killing a busy one throws its work away, or makes it run twice);
- ``Autoscaler``: reads the signals from the queue, asks ``decide`` and starts or
  stops processes with a session 5 ``WorkerFleet`` (``OperationsFleet``, whose
  workers honour rate limits and send webhooks, in the command line). Stopping is
  the graceful SIGTERM: the worker finishes what it holds and leaves.

A worker that prefetches holds claimed tasks in its own list: they are no longer
*pending*, so the scaler sees a small backlog while work is in fact waiting.
``in_flight`` counts them; ``decide`` adds the held-not-running ones back when
``count_prefetched`` is on.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from session5_recovery.tools.fleet import WorkerFleet
from session5_recovery.workers import RedisTaskQueue, WorkerInfo


@dataclass(frozen=True)
class ScalePolicy:
    min_workers: int = 1
    max_workers: int = 8
    tasks_per_worker: int = 10  # backlog one worker is expected to handle
    max_age: float = 30.0  # seconds the oldest pending task may wait before we add one
    cooldown: float = 10.0  # seconds after any change before scaling down
    # Count tasks that prefetching workers hold but have not started as backlog too.
    count_prefetched: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.min_workers, int) or self.min_workers < 0:
            raise ValueError(f"--min must be a whole number >= 0, got {self.min_workers!r}")
        if not isinstance(self.max_workers, int) or self.max_workers < max(1, self.min_workers):
            raise ValueError(f"--max must be >= --min and >= 1, got min={self.min_workers} "
                             f"max={self.max_workers}")
        if self.tasks_per_worker < 1 or self.max_age <= 0 or self.cooldown < 0:
            raise ValueError("tasks_per_worker must be >= 1, max_age > 0 and cooldown >= 0")


@dataclass(frozen=True)
class Signals:
    backlog: int  # pending tasks (all priorities)
    oldest_age: float  # seconds the oldest pending task has waited (0: none)
    workers: int  # live workers
    busy: int  # live workers holding at least one task
    prefetched: int = 0  # tasks claimed into workers' lists beyond the one each runs


@dataclass(frozen=True)
class Decision:
    target: int
    reason: str


@dataclass
class ScaleState:
    last_change: float = -math.inf


def decide(signals: Signals, policy: ScalePolicy, state: ScaleState, now: float) -> Decision:
    """The number of workers to run now, and why (pure: the caller's clock, no I/O)."""
    current = signals.workers
    backlog = signals.backlog + (signals.prefetched if policy.count_prefetched else 0)
    wanted = math.ceil(backlog / policy.tasks_per_worker)
    reason = f"backlog {backlog} -> {wanted}"
    if signals.oldest_age > policy.max_age and signals.backlog > 0:
        wanted = max(wanted, current + 1)
        reason = f"oldest pending waited {signals.oldest_age:.0f} s > {policy.max_age:g} s"
    wanted = min(policy.max_workers, max(policy.min_workers, wanted))
    if wanted > current:
        return Decision(wanted, f"up: {reason}")
    if wanted < current:
        if now - state.last_change < policy.cooldown:
            return Decision(current, f"hold: cooldown ({reason})")
        floor = max(wanted, signals.busy, policy.min_workers)
        if floor < current:
            return Decision(floor, f"down: {reason}; {signals.busy} busy")
        return Decision(current, f"hold: {signals.busy} busy ({reason})")
    return Decision(current, f"steady: {reason}")


def read_signals(queue: RedisTaskQueue, now: float) -> tuple[Signals, list[WorkerInfo]]:
    """Backlog, the oldest pending task's age and the workers, read from Redis.

    Every scrape of ``/metrics``, every refresh of the operations page and every look
    of the autoscaler asks this, so it asks Redis in two round trips, each a pipeline:
    the pending lists and the registry, then what their answers name (the oldest
    pending tasks' creation times, each registered worker's heartbeat and list).
    Asked one question at a time, it took about ten.
    """
    pending_lists = (queue.keys.pending_high, queue.keys.pending, queue.keys.pending_low)
    first = queue.client.pipeline(transaction=False)
    for name in pending_lists:
        first.llen(name)
        first.lindex(name, -1)  # claims take from this end: the list's oldest task
    first.zrange(queue.keys.workers, 0, -1, withscores=True)
    *lists, registered = first.execute()
    backlog = sum(int(length) for length in lists[0::2])
    oldest_ids = [task_id for task_id in lists[1::2] if task_id]

    second = queue.client.pipeline(transaction=False)
    for task_id in oldest_ids:
        second.hget(queue.keys.task(task_id), "created_at")
    for worker, _ in registered:
        second.pttl(queue.keys.heartbeat(worker))
        second.lrange(queue.keys.processing(worker), 0, -1)
    replies = second.execute(raise_on_error=False)
    created, worker_replies = replies[:len(oldest_ids)], replies[len(oldest_ids):]

    # No hash (None), or not a hash (an error): that id tells no age, as get_task_info says.
    ages = [now - float(at) for at in created
            if at not in (None, "") and not isinstance(at, Exception)]
    oldest = max([0.0, *ages])
    workers = [worker_info(worker, last_seen, *worker_replies[2 * i:2 * i + 2])
               for i, (worker, last_seen) in enumerate(registered)]
    live = [w for w in workers if w.alive]
    busy = sum(1 for w in live if w.in_flight)
    prefetched = sum(max(0, len(w.in_flight) - 1) for w in live)
    return Signals(backlog, oldest, len(live), busy, prefetched), live


def worker_info(worker: str, last_seen: float, ttl_ms: Any, in_flight: Any) -> WorkerInfo:
    """A registered worker from its heartbeat's PTTL and its processing list, as
    ``RedisTaskQueue.workers`` builds it (a heartbeat with no time left: not alive)."""
    for reply in (ttl_ms, in_flight):
        if isinstance(reply, Exception):  # a key of the wrong type, written by hand
            raise reply
    return WorkerInfo(worker, float(last_seen),
                      ttl_ms / 1000 if ttl_ms and ttl_ms > 0 else None, tuple(in_flight))


@dataclass
class Sample:
    at: float
    workers: int  # workers running after the decision (not counting those told to stop)
    target: int  # what the decision asked for
    backlog: int
    oldest_age: float
    decision: str


@dataclass
class Autoscaler:
    """Supervise a fleet of worker processes for one queue, scaling between min and max."""

    queue: RedisTaskQueue
    fleet: WorkerFleet
    policy: ScalePolicy
    clock: Callable[[], float] = time.monotonic
    state: ScaleState = field(default_factory=ScaleState)
    timeline: list[Sample] = field(default_factory=list)
    stopping: set[str] = field(default_factory=set)  # sent SIGTERM, finishing their task

    def running(self) -> list[str]:
        """Live workers that have not been asked to stop."""
        alive = self.fleet.alive()
        self.stopping &= set(alive)
        return [w for w in alive if w not in self.stopping]

    def tick(self) -> Decision:
        """One look: read the signals, decide, start or stop workers; recorded in ``timeline``."""
        now = self.clock()
        signals, live = read_signals(self.queue, time.time())
        running = self.running()
        signals = Signals(signals.backlog, signals.oldest_age, len(running),
                          sum(1 for w in live if w.in_flight and w.worker_id in running),
                          signals.prefetched)
        decision = decide(signals, self.policy, self.state, now)
        self.timeline.append(Sample(now, len(running), decision.target, signals.backlog,
                                    signals.oldest_age, decision.reason))
        if decision.target > len(running):
            self.fleet.start(decision.target - len(running))  # waits until they registered
        elif decision.target < len(running):
            idle = [w.worker_id for w in live if not w.in_flight and w.worker_id in running]
            for worker_id in idle[:len(running) - decision.target]:
                self.fleet.kill(worker_id, signal.SIGTERM)  # graceful: finish, then leave
                self.stopping.add(worker_id)
        after = len(self.running())
        if after != len(running):
            self.state.last_change = self.clock()
            # Starting processes takes a while: the backlog has moved on since the look.
            self.timeline.append(Sample(self.state.last_change, after, decision.target,
                                        self.queue.get_stats()["pending"], signals.oldest_age,
                                        decision.reason))
        return decision

    def run(self, interval: float = 1.0, until: Callable[[], bool] = lambda: False,
            log: Callable[[str], None] | None = print, quiet_for: float = 10.0) -> None:
        """Tick every ``interval`` seconds until ``until()``; a line for each change of the
        worker count (and one every ``quiet_for`` seconds while nothing changes)."""
        if not self.running():
            self.fleet.start(self.policy.min_workers)
        last: tuple[int, int] | None = None
        last_said = -math.inf
        while not until():
            decision = self.tick()
            sample = self.timeline[-1]
            now = self.clock()
            if log is not None and ((sample.workers, decision.target) != last
                                    or now - last_said >= quiet_for):
                log(f"workers {sample.workers:2d}  backlog {sample.backlog:4d}  oldest "
                    f"{sample.oldest_age:5.1f} s  {decision.reason}")
                last, last_said = (sample.workers, decision.target), now
            time.sleep(interval)
