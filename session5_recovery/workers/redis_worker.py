"""A worker that can die without losing work, and stops without losing it either.

Session 4's loop (claim, run, record, repeat) with four additions:

1. a heartbeat thread (heartbeat.py) that says "alive" while a task runs, and
   reaps other workers' tasks when *their* heartbeats stop;
2. failures are classified: a permanent error (bad payload, unknown filter,
   not an image, path outside the allowed folders) goes straight to the DLQ;
   anything else is retried later with backoff, up to ``max_attempts``;
3. completion can be refused: if this worker was taken for dead and its task
   was given to another, ``mark_completed`` writes nothing, and we say so;
4. graceful shutdown: the first SIGINT/SIGTERM stops claiming and lets the
   current task finish; a second one interrupts the task and hands it back to
   the queue (``requeue``). Either way nothing is lost. A ``kill -9`` cannot be
   caught: that is what the heartbeat and the reaper are for.

If Redis goes away, the worker waits and reconnects with backoff, and finishes
recording what it was doing when the server comes back. An error Redis itself
returns for one task (a hash of the wrong type written by hand, say) is logged,
and the worker goes on with the next task.

``prefetch=N`` claims up to N tasks in one call (``get_tasks``) and runs them one
after the other: fewer round trips, at the price of fairness (a task waits in
this worker's list while another worker may be idle) and of a bigger batch for
the reaper to send back if this worker dies. The README compares the two.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import redis

from session2_pipeline.core import FilterPipeline, default_pipeline
from session2_pipeline.core.samples import OUTPUT_DIR

from .epoch import QueueEpoch
from .handlers import (
    HandlerRegistry,
    TaskContext,
    default_handlers,
    describe_error,
    is_permanent,
    printable,
)
from .heartbeat import Heartbeat
from .instance import InstanceToken
from .keys import check_name
from .redis_task_queue import (
    MAX_CLAIM,
    RedisTaskQueue,
    ResultTooLargeError,
    describe_outage,
    is_outage,
)
from .server_checks import check_eviction_policy
from .task import Task
from .time_limits import TaskTimeLimitExceeded, descendant_pids, kill_processes, time_limit

T = TypeVar("T")


class StopNow(BaseException):
    """Raised in the main thread by a second stop signal, to interrupt the current task.

    A BaseException (like KeyboardInterrupt), so a task's own ``except Exception``
    cannot swallow it.
    """


class Outcome(str, Enum):
    """What ``process`` did with one task.

    A ``str`` too, so ``outcome == "completed"`` and the outcome written into Redis
    read as they did when outcomes were plain strings.
    """

    COMPLETED = "completed"
    RETRY = "retry"  # failed; a retry is scheduled
    DEAD_LETTERED = "dead_lettered"  # failed for good: in the DLQ
    REFUSED = "refused"  # no longer ours (taken for dead): nothing written
    ERROR = "error"  # Redis refused to record it; logged, and the worker goes on

    def __str__(self) -> str:
        return self.value


@dataclass
class Batch:
    """One claim's tasks as the worker goes through them, and what it owes Redis.

    With ``prefetch > 1`` the successes of a batch are held and sent together with
    its last task's (one round trip per batch), and that last send also claims the
    next batch. ``process`` reads the plan for the task in hand (``hold``,
    ``claim_next``); a send that claims puts what came back into ``waiting``.
    """

    waiting: deque[Task] = field(default_factory=deque)  # claimed, not started yet
    # Successes not sent yet: (task, encoded result, start time).
    unsent: list[tuple[Task, str, float]] = field(default_factory=list)
    hold: bool = False  # the task in hand is not the batch's last: hold its success
    claim_next: int = 0  # when its success is sent, claim this many more (0: none)

    def plan(self, *, last: bool, next_size: int) -> None:
        """Set what the success of the task just taken from ``waiting`` should do.

        Not the last of the batch: held. The last: sent, claiming ``next_size`` more,
        unless it is the last task this worker will run (``last``).
        """
        self.hold = bool(self.waiting) and not last
        self.claim_next = 0 if self.hold or last else next_size

    def holding(self) -> set[str]:
        """The ids this batch keeps in our list: not started, or done and not sent."""
        return {t.id for t in self.waiting} | {task.id for task, _, _ in self.unsent}


@dataclass
class WorkerCounts:
    """What one worker did."""

    completed: int = 0
    retried: int = 0  # attempts that failed and were scheduled for a retry
    dead_lettered: int = 0  # tasks this worker sent to the DLQ
    refused: int = 0  # results refused because the task was no longer ours
    requeued: int = 0  # tasks handed back unfinished at shutdown
    seconds: float = 0.0

    @property
    def processed(self) -> int:
        return self.completed + self.retried + self.dead_lettered + self.refused

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_allowed_dirs() -> tuple[Path, ...]:
    """Where image tasks may read and write by default: the current folder and output/."""
    return (Path.cwd(), OUTPUT_DIR)


class RedisWorker:
    """Processes tasks from ``queue``; ``pipeline`` is the default for image tasks without filters.

    ``handlers`` maps task types to functions (default: image, noop, sleep, fail,
    crash). ``allowed_dirs`` are the folders image tasks may touch. ``log``
    receives one line per event (None for silence). ``prefetch`` is how many
    tasks one claim may take (1: one at a time). Every interval and TTL comes
    from ``queue.settings``, and so does the default time limit of one attempt
    (``task_time_limit``; a type may set its own in ``handlers``).

    ``kill_children``: this worker owns its process (the CLI, a worker process), so
    child processes its handlers started are killed when a handler runs out of time
    and when the worker stops. Off for a worker in a thread of a bigger program,
    whose other children are not the worker's to kill.

    ``allow_eviction``: start even if the server's maxmemory-policy evicts keys
    (it refuses to otherwise; see server_checks.py).

    Session 4 took ``RedisWorker(worker_id, pipeline, queue)``; here the pipeline is
    optional, so it is a keyword and the queue comes second.
    """

    def __init__(
        self,
        worker_id: str,
        queue: RedisTaskQueue,
        *,
        pipeline: FilterPipeline | None = None,
        handlers: HandlerRegistry | None = None,
        allowed_dirs: Sequence[str | Path] | None = None,
        log: Callable[[str], None] | None = print,
        prefetch: int = 1,
        kill_children: bool = False,
        allow_eviction: bool = False,
    ) -> None:
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) \
                or not 1 <= prefetch <= MAX_CLAIM:
            raise ValueError(f"prefetch must be an integer from 1 to {MAX_CLAIM} (tasks per "
                             f"claim), got {prefetch!r}")
        # Checked before anything is registered: the id becomes part of key names.
        check_name("worker_id", worker_id, "worker-1")
        self.worker_id = worker_id
        self.prefetch = prefetch
        self.pipeline = pipeline if pipeline is not None else default_pipeline()
        self.queue = queue
        self.settings = queue.settings
        self.handlers = handlers or default_handlers()
        self.allowed_dirs = tuple(Path(d).resolve() for d in (allowed_dirs or default_allowed_dirs()))
        self.counts = WorkerCounts()
        self._stopping = threading.Event()
        self.instance = InstanceToken(queue.client, queue.keys.instance(worker_id), worker_id,
                                      self.settings.heartbeat_ttl_ms)
        self.epoch = QueueEpoch(queue, worker_id)
        self.heartbeat = Heartbeat(queue, worker_id, instance=self.instance, epoch=self.epoch,
                                   stopping=self._stopping, log=log)
        self._log = log
        self._stop_now = False
        self._in_task = False
        self._pipelines: dict[tuple[str, ...], FilterPipeline] = {}
        self.kill_children = kill_children
        self._outage_seen = False  # a call failed to reach Redis: look for stray claims
        self._outage_said = False  # the current outage has been reported
        self._next_stray_check = 0.0  # time.monotonic() of the next look, even when busy
        self.allow_eviction = allow_eviction  # see server_checks.py
        self._children_before: set[int] = set()  # processes that were there before us
        self._batch = Batch()  # the claim in hand (the loop's; process() reads its plan)

    # --- running ---------------------------------------------------------------

    def start(self, burst: bool = True, *, max_tasks: int | None = None,
              handle_signals: bool = True,
              on_registered: Callable[[], None] | None = None) -> WorkerCounts:
        """Process tasks; return this worker's counts.

        ``burst=True`` stops once nothing is pending, in flight or waiting for a
        retry anywhere in the queue (a task of a dead worker may still come back,
        so it waits for that too). ``burst=False`` runs until ``stop()`` or a
        signal, waiting for new tasks. ``handle_signals`` installs the
        SIGINT/SIGTERM handlers (main thread only). ``on_registered`` is called
        once the worker is in the registry, before its first claim.
        """
        self._stopping.clear()
        self._stop_now = False
        if self.kill_children:
            self._children_before = set(descendant_pids())
        started = time.perf_counter()
        warning = self._retrying(lambda: check_eviction_policy(  # EvictingServerError: refuse
            self.queue.client, key=self.queue.keys.workers, allow_eviction=self.allow_eviction))
        if warning:
            self._say(warning)
        # WorkerIdInUseError if another live process has this id (waits one TTL: a dead
        # holder's token expires by then).
        self._retrying(lambda: self.instance.acquire(
            wait=self.settings.heartbeat_ttl + self.settings.heartbeat_interval))
        self._retrying(lambda: self.queue.register_worker(self.worker_id))
        self._retrying(self.epoch.check)
        crashed = True  # until the loop returns normally
        try:
            self.heartbeat.start()
            if on_registered is not None:
                on_registered()
            mode = "burst: until the queue is drained" if burst else "waiting for tasks"
            batch = f", prefetch {self.prefetch}" if self.prefetch > 1 else ""
            self._say(f"started, pid {os.getpid()} ({mode}{batch}; Ctrl+C once: finish the task "
                      f"and stop, twice: requeue it)")
            with self._signal_handlers(handle_signals):
                self._loop(burst, max_tasks)
            crashed = False
        finally:
            self.heartbeat.stop()
            self._kill_handler_children("worker stopping")
            if crashed:
                # An error escaped the loop, most likely because of the task in hand.
                # Handing it back would refund its attempt, and a task that kills every
                # worker this way would go round for ever. Leave it in our list: the
                # reaper requeues it once our heartbeat expires, with the attempt counted
                # (and dead-letters it after max_attempts), as if we had been killed.
                self._say("stopping on an unexpected error; the reaper will recover my task")
            else:
                self._leave()
            self.counts.seconds += time.perf_counter() - started
        c = self.counts
        self._say(f"stopped: {c.completed} completed, {c.retried} retried, {c.dead_lettered} to the DLQ, "
                  f"{c.refused} refused, {c.requeued} requeued in {c.seconds:.2f} s")
        return self.counts

    def _loop(self, burst: bool, max_tasks: int | None) -> None:
        done = 0
        # Burst mode first tries without waiting, and exits when the whole queue is
        # drained; while other work may still come back (retries, a dead worker's
        # task), it waits like forever mode does.
        wait = not burst
        outage = 0  # claims in a row that failed because Redis was unreachable
        batch = self._batch = Batch()
        try:
            while not self._stopping.is_set():
                if self._outage_seen or time.monotonic() >= self._next_stray_check:
                    # A claim whose reply was lost (an outage; or a dropped connection that
                    # redis-py retried without telling us) leaves ids in our list that we
                    # never received. Our list should hold exactly the batch in hand: after
                    # an outage, and once per reap_interval even while busy, hand back
                    # anything else instead of waiting until we are idle.
                    self._outage_seen = False
                    self._next_stray_check = time.monotonic() + self.settings.reap_interval
                    self._retrying(self._release_strays)
                if not batch.waiting:
                    try:
                        claimed = self.queue.get_tasks(
                            self.worker_id, self._batch_size(max_tasks, done),
                            timeout=self.settings.claim_timeout if wait else 0)
                    except redis.exceptions.OutOfMemoryError as error:
                        # A full server (maxmemory, noeviction) refuses the claim's writes:
                        # nothing was claimed. Wait, longer each time, until there is room.
                        outage += 1
                        self._wait_for_room(error, outage, "not claiming")
                        continue
                    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as error:
                        if is_outage(error):  # unreachable, loading or BUSY: nothing was claimed
                            outage += 1
                            self._wait_for_redis(error, attempt=outage)
                            continue
                        # Redis refused the claim itself (a key of the wrong type, by hand?).
                        # Nothing was written: say so, wait a little (no spinning), go on.
                        self._say(f"claim failed: Redis replied {error}; trying again")
                        self._stopping.wait(self.settings.claim_timeout)
                        continue
                    if outage:
                        self._say("Redis is back")
                        outage = 0
                        self._outage_said = False
                    if not claimed:
                        self._retrying(self._release_strays)
                        if burst and self._retrying(self.queue.is_drained):
                            return
                        wait = True
                        continue
                    wait = not burst
                    batch.waiting.extend(claimed)
                    continue  # look at the stop flag before starting
                task = batch.waiting.popleft()
                last = max_tasks is not None and done + 1 >= max_tasks
                # The last task of a batch asks for the next batch with its completion;
                # the others of a prefetched batch are held to be sent with it.
                batch.plan(last=last, next_size=self._batch_size(max_tasks, done + 1))
                try:
                    self.process(task)
                except StopNow:
                    return
                finally:
                    batch.hold, batch.claim_next = False, 0
                done += 1
                if last:
                    return
        finally:
            # Leaving: first record what is done, then hand back what was not started.
            self._send_unsent(claim_next=0)
            for unrun in batch.waiting:
                self._give_back(unrun, "worker stopping: claimed, not started")

    def _batch_size(self, max_tasks: int | None, done: int) -> int:
        return self.prefetch if max_tasks is None else max(1, min(self.prefetch, max_tasks - done))

    def _holding(self) -> set[str]:
        """The ids our list must hold now: claimed and not started, or finished and not sent.

        A prefetched batch's successes are recorded together at its end, so until
        then they are ours as much as the tasks not started yet. Forgetting them
        here handed back work that was done, and it ran a second time.
        """
        return self._batch.holding()

    def _release_strays(self) -> None:
        """Hand back ids in our own list that we never received.

        Our list should hold exactly ``_holding()`` (nothing when idle). Any other
        id got there when the connection
        dropped after Redis had run our claim but before the reply arrived (a Redis
        restart, a network cut; redis-py even retries the command on a new
        connection), or when Redis refused to record a task's outcome (its key was
        broken by hand). We never finished it, and the reaper leaves a live worker's
        list alone: without this it would wait there for as long as we live. One
        LRANGE of a short list: when idle, after an outage, and once per
        reap_interval while busy.
        """
        mine = self.queue.keys.processing(self.worker_id)
        holding = self._holding()
        strays = [i for i in self.queue.client.lrange(mine, 0, -1) if i not in holding]
        if not strays:
            return
        try:
            if not holding:
                released = self.queue.release_all(self.worker_id, "not received, or not recorded")
            else:
                released = sum(bool(self.queue.requeue(
                    i, worker_id=self.worker_id, reason="not received, or not recorded"))
                    for i in strays)
        except redis.ResponseError as error:
            if is_outage(error):
                raise  # BUSY: _retrying waits, as for a lost connection
            self._say(f"could not hand back my stray tasks: Redis replied {error}")
            return
        if released:
            self._say(f"requeued {released} task(s) found in my list that I never received "
                      f"(a claim reply was lost)")

    def stop(self) -> None:
        """Stop after the current task (safe from any thread; what the first signal does)."""
        self._stopping.set()

    def _leave(self) -> None:
        """On the way out: hand back anything still in our list, then leave the registry."""
        if self.heartbeat.id_clash is not None:
            # The list and the heartbeat under our id are another process's now.
            self._say(f"leaving without handing back or deregistering: worker id "
                      f"{self.worker_id!r} is used by {self.heartbeat.id_clash}")
            return
        try:
            released = self.queue.release_all(self.worker_id, "worker stopped")
            self.counts.requeued += released
            self.queue.deregister_worker(self.worker_id)
            self.instance.release()
        except redis.RedisError as error:
            if not is_outage(error):
                raise
            # Nothing is lost: our list stays in Redis and the reaper requeues it once
            # our heartbeat expires.
            self._say(f"could not say goodbye to Redis ({error}); the reaper will requeue "
                      f"anything left in {self.queue.keys.processing(self.worker_id)}")

    # --- one task ----------------------------------------------------------------

    def process(self, task: Task) -> Outcome:
        """Run one claimed task and record its outcome (an ``Outcome``).

        Raises StopNow (after requeueing the task) if a second stop signal came.
        """
        started = time.perf_counter()
        self._in_task = True
        try:
            result = self.handle(task)
        except StopNow:
            self._in_task = False
            self._give_back(task, "second stop signal: requeued unfinished")
            raise
        except Exception as error:  # any error in one task must not stop the worker
            self._in_task = False
            failure = error
            return self._guarded(task, lambda: self._record_failure(task, failure))
        finally:
            self._in_task = False
        if result is not None and not isinstance(result, dict):
            result = {"value": result}
        try:
            # Validated and encoded once, here. A result that is not JSON or is too big
            # will be the same on every attempt: a permanent failure.
            encoded = self.queue.encode_result(result)
        except (TypeError, ResultTooLargeError) as error:
            bad = error
            return self._guarded(task, lambda: self._record_failure(task, bad, permanent=True))
        return self._guarded(task, lambda: self._record_success(task, encoded, started))

    def _record_success(self, task: Task, encoded: str, started: float) -> Outcome:
        batch = self._batch
        if batch.hold and not self._stopping.is_set():
            batch.unsent.append((task, encoded, started))  # sent with the batch's last one
            return Outcome.COMPLETED
        claim_next = 0 if self._stopping.is_set() else batch.claim_next
        if batch.unsent:
            batch.unsent.append((task, encoded, started))
            self._send_unsent(claim_next)
            return Outcome.COMPLETED
        recorded, claimed = self._retrying(lambda: self.queue.complete_and_claim(
            task.id, worker_id=self.worker_id, encoded=encoded, max_tasks=claim_next))
        batch.waiting.extend(claimed)
        return self._count_success(task, recorded, started)

    def _send_unsent(self, claim_next: int) -> None:
        """Send the batch's held successes in one round trip (and claim ``claim_next`` more)."""
        batch = self._batch
        if not batch.unsent:
            return
        unsent, batch.unsent = batch.unsent, []
        done = [(task.id, encoded) for task, encoded, _ in unsent]
        try:
            recorded, claimed = self._retrying(lambda: self.queue.complete_many(
                self.worker_id, done, max_tasks=claim_next))
            batch.waiting.extend(claimed)
        except redis.ResponseError as error:
            self._say(f"could not record {len(done)} completions: Redis replied {error}; they stay "
                      f"in my list and go back to the queue when I am idle")
            return
        for (task, _, started), ok in zip(unsent, recorded, strict=True):
            self._count_success(task, ok, started)

    def _count_success(self, task: Task, recorded: bool, started: float) -> Outcome:
        if not recorded:
            self.counts.refused += 1
            # Refused because we were taken for dead, or because the server forgot
            # everything? One look at the epoch tells (only on this rare path).
            if self.heartbeat.data_lost or self.heartbeat.check_data_lost():
                self._say(f"REFUSED completion of {task.id[:8]}: the server lost the queue's "
                          f"data while I ran it (restarted empty?); its result is not recorded")
            else:
                self._say(f"REFUSED completion of {task.id[:8]}: it is no longer mine (I was "
                          f"taken for dead and it went to another worker); nothing overwritten")
            return Outcome.REFUSED
        self.counts.completed += 1
        if self._log is not None:  # the line is built only when someone reads it
            self._say(f"completed {task.id[:8]} ({_label(task)}) in "
                      f"{time.perf_counter() - started:.2f} s, attempt {task.attempts}")
        return Outcome.COMPLETED

    def _guarded(self, task: Task, record: Callable[[], Outcome]) -> Outcome:
        """``record()``, surviving an error Redis returns for this one task.

        The scripts check before they write, so such an error has changed nothing:
        the task stays in our list, and once we are idle ``_release_strays`` hands
        it back (the claim then dead-letters what is not a task).
        """
        try:
            return record()
        except redis.ResponseError as error:
            self._say(f"could not record the outcome of {task.id[:8]}: Redis replied {error}; "
                      f"it stays in my list and goes back to the queue when I am idle")
            return Outcome.ERROR

    def handle(self, task: Task) -> dict[str, Any] | None:
        """Run the handler registered for the task's type and return its result."""
        handler = self.handlers.get(task.type)  # UnknownTaskTypeError (permanent) if none
        context = TaskContext(task_id=task.id, attempt=task.attempts, worker_id=self.worker_id,
                              pipeline=self.pipeline, allowed_dirs=self.allowed_dirs,
                              pipelines=self._pipelines)
        limit = self.handlers.time_limit(task.type, self.settings.task_time_limit)
        ledger = self.settings.run_ledger
        if ledger is not None:
            # Counted as the run starts (a run cut short counts too), under a field of its
            # own: a write resent after a lost reply (an outage) sets it again, not twice.
            run = f"{task.id} {uuid.uuid4().hex[:12]}"
            self._retrying(lambda: self.queue.client.hset(ledger, run, self.worker_id))
        try:
            with time_limit(limit, f"attempt {task.attempts} of task {task.id[:8]} ({task.type})"):
                return handler(task.data, context)
        except TaskTimeLimitExceeded:
            self._kill_handler_children("its handler ran out of time")
            raise

    def _kill_handler_children(self, why: str) -> None:
        """Kill processes our handlers started (only in a worker that owns its process)."""
        if not self.kill_children:
            return
        killed = kill_processes(set(descendant_pids()) - self._children_before)
        if killed:
            self._say(f"killed {len(killed)} child process(es) a handler had started ({why}): "
                      f"pids {killed}")

    def _record_failure(self, task: Task, error: Exception, *,
                        permanent: bool = False) -> Outcome:
        permanent = permanent or is_permanent(error)
        reason = describe_error(error)
        outcome = Outcome(self._retrying(lambda: self.queue.mark_failed(
            task.id, reason, permanent=permanent, worker_id=self.worker_id)))
        if outcome is Outcome.RETRY:
            self.counts.retried += 1
            self._say(f"task {task.id[:8]}: attempt {task.attempts} of {task.max_attempts} "
                      f"failed ({reason}); retry scheduled")
        elif outcome is Outcome.DEAD_LETTERED:
            self.counts.dead_lettered += 1
            why = "permanent error" if permanent else f"attempt {task.attempts} of {task.max_attempts}"
            self._say(f"FAILED {task.id[:8]} ({why}): {reason}; moved to the DLQ")
        else:
            self.counts.refused += 1
            self._say(f"REFUSED failure report for {task.id[:8]}: it is no longer mine")
        return outcome

    def _give_back(self, task: Task, reason: str) -> None:
        if self._retrying(lambda: self.queue.requeue(task.id, worker_id=self.worker_id, reason=reason)):
            self.counts.requeued += 1
            self._say(f"requeued {task.id[:8]} ({reason})")

    # --- Redis outages -------------------------------------------------------------

    def _retrying(self, call: Callable[[], T]) -> T:
        """``call()``, retried with backoff while Redis is unreachable.

        Recording an outcome twice is harmless: the Lua commands are fenced (a
        completion whose first try got through answers "already").
        """
        attempt = 0
        while True:
            try:
                result = call()
                if attempt:
                    self._outage_said = False  # the next outage is news again
                return result
            except redis.exceptions.OutOfMemoryError as error:
                # Full server: the script refused its first write, so nothing changed. We
                # keep the task (the heartbeat keeps our claim alive) and try again, rather
                # than hand back work that is done and have it run a second time.
                attempt += 1
                if self._stop_now:
                    raise StopNow() from error
                self._wait_for_room(error, attempt, "cannot record what I did yet")
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as error:
                if not is_outage(error):  # a refusal (not unreachable, loading or BUSY)
                    raise
                attempt += 1
                if self._stop_now:
                    raise StopNow() from error  # told twice to stop: the reaper will requeue
                self._wait_for_redis(error, attempt)

    def _wait_for_room(self, error: Exception, attempt: int, doing: str) -> None:
        delay = min(self.settings.reconnect_cap, 0.1 * 2 ** (attempt - 1))
        if attempt in (1, 5) or attempt % 20 == 0:
            self._say(f"Redis is full (maxmemory reached, it refuses writes: {error}); {doing}, "
                      f"retrying in {delay:.1f} s. Make room (delete old results, purge the "
                      f"DLQ) or raise maxmemory")
        if not self._stop_now:
            self._stopping.wait(delay)

    def _wait_for_redis(self, error: Exception, attempt: int) -> None:
        """Wait before trying again: Redis is unreachable, loading, or busy (is_outage)."""
        self._outage_seen = True
        delay = min(self.settings.reconnect_cap, 0.1 * 2 ** (attempt - 1))
        if not self._outage_said:  # once per outage, whoever meets it first
            self._outage_said = True
            self._say(f"{describe_outage(error)}; waiting and retrying (up to every "
                      f"{self.settings.reconnect_cap:g} s)")
        if not self._stop_now:
            self._stopping.wait(delay)  # a stop signal ends the wait early

    # --- signals ---------------------------------------------------------------------

    @contextmanager
    def _signal_handlers(self, enabled: bool) -> Iterator[None]:
        """First SIGINT/SIGTERM: stop after this task. Second: requeue it and stop now."""
        if not enabled or threading.current_thread() is not threading.main_thread():
            yield
            return
        wanted = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
        previous = {signum: signal.getsignal(signum) for signum in wanted}

        def on_signal(signum: int, frame: object) -> None:
            name = signal.Signals(signum).name
            if not self._stopping.is_set():
                self._stopping.set()
                self._say(f"{name}: finishing the current task, then stopping "
                          f"(send it again to requeue the task and stop at once)")
                return
            self._stop_now = True
            self._say(f"{name} again: requeueing the current task and stopping now")
            if self._in_task:
                raise StopNow()

        for signum in wanted:
            signal.signal(signum, on_signal)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def _say(self, message: str) -> None:
        if self._log is not None:
            # printable: a task's path may hold a lone surrogate, which print() cannot encode.
            self._log(printable(f"[{self.worker_id}] {message}"))


def _label(task: Task) -> str:
    if task.type != "image":
        return task.type
    return Path(str(task.data.get("image_path", "?"))).name
