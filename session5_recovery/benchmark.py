"""What recovery costs: session 5's queue next to session 4's, with no-op tasks.

``measure_session5(ctx)`` has the shape of the measurement functions in
``workshop/bench.py`` (it takes a ``BenchContext``, returns ``Measurement``\\ s),
so ``make bench`` can list it in ``GROUPS``. It measures the same way as
session 4's: enqueue in one pipeline, then one worker *process* (spawn) drains
``{"type": "noop"}`` tasks; the clock runs from "the worker is registered and
ready" to "the queue is drained", without process start-up.

Everything session 5 adds is switched on: the heartbeat thread (beating and
reaping), the claim script (owner, attempt, event), the fenced completion
script (LREM from the worker's own list, result, event). Per task that is
still three round trips (LMOVE, claim, complete), as in session 4.

Run it alone for the comparison table::

    python -m session5_recovery.benchmark [--tasks 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import uuid
from collections.abc import Sequence

from workshop.bench import (
    BenchContext,
    Measurement,
    measure_raw_redis,
    measure_session4,
    rate,
    ratios,
    timed,
)
from workshop.redis_connection import RedisUnavailableError, resolve_redis


def measure_session5(ctx: BenchContext) -> list[Measurement]:
    """Session 5's RedisTaskQueue: bulk enqueue, and one worker process draining no-op tasks."""
    from session5_recovery.workers import RedisTaskQueue, run_worker_process

    assert ctx.target.url is not None, "the bench needs a Redis server, not fakeredis"
    queue = RedisTaskQueue(url=ctx.target.url, queue_name=f"bench-{uuid.uuid4().hex[:8]}")
    bulk = Measurement("session 5", "enqueue, add_tasks (1 pipeline)", unit="tasks/s",
                       note="one Lua enqueue per task: hash, registry, list, event")
    processing = Measurement("session 5", "processing, 1 worker process", unit="tasks/s",
                             note="LMOVE + claim script + fenced complete; heartbeats, events on")
    n = ctx.tasks
    noop = {"type": "noop"}
    ctx_mp = multiprocessing.get_context("spawn")  # as on macOS and Windows
    try:
        for _ in range(ctx.repeat):
            queue.clear()
            bulk.samples.append(rate(n, timed(lambda: queue.add_tasks([noop] * n))))
            ready = ctx_mp.Barrier(2)
            worker = ctx_mp.Process(target=run_worker_process,
                                    args=("bench-worker", ctx.target.url, queue.queue_name,
                                          True, ready))
            worker.start()
            ready.wait()
            started = time.perf_counter()
            worker.join()
            seconds = time.perf_counter() - started
            stats = queue.get_stats()
            if worker.exitcode != 0 or stats["completed"] != n or not queue.conservation().holds:
                raise RuntimeError(f"the bench worker did not drain the queue: exit code "
                                   f"{worker.exitcode}, stats {stats}")
            processing.samples.append(rate(n, seconds))
            ctx.advance()
    finally:
        queue.clear()
        queue.close()
    return [bulk, processing]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m session5_recovery.benchmark",
                                     description="Session 5's queue throughput next to session 4's.")
    parser.add_argument("--tasks", type=int, default=3000, help="no-op tasks per run (default 3000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the median is kept (default 5)")
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args(argv)
    try:
        target = resolve_redis(args.redis_url)
    except RedisUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    ctx = BenchContext(target=target, tasks=args.tasks, round_trips=args.tasks, repeat=args.repeat)
    measurements = measure_raw_redis(ctx) + measure_session4(ctx) + measure_session5(ctx)
    for m in measurements:
        spread = f"{min(m.samples):,.0f} .. {max(m.samples):,.0f}"
        print(f"{m.group:<10} {m.name:<34} {m.median:>9,.0f} {m.unit:<14} ({spread})")
    for name, value in ratios(measurements).items():
        print(f"{name}: {value:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
