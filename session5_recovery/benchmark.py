"""What recovery costs: session 5's queue next to session 4's, with no-op tasks.

``measure_session5(ctx)`` has the shape of the measurement functions in
``workshop/bench.py`` (it takes a ``BenchContext``, returns ``Measurement``\\ s),
so ``make bench`` can list it in ``GROUPS``. It measures the same way as
session 4's: enqueue in one call, then one worker *process* (spawn) drains
``{"type": "noop"}`` tasks.

Everything session 5 adds is switched on: the heartbeat thread (beating and
reaping), the claim script (move, owner, attempt, heartbeat, read, event) and
the fenced completion script (result, event). Per task that is two round trips
(claim, complete) against three for session 4 and the reference queue; with
``prefetch`` N, one claim serves N tasks. Each worker is timed the same way as
session 4's: the seconds its ``start()`` took inside the child process (process
start-up and imports excluded), reported by the worker itself.

Run it alone for the comparison table::

    python -m session5_recovery.benchmark [--tasks 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from workshop.bench import (
    BenchContext,
    Measurement,
    measure_raw_redis,
    measure_reference,
    measure_session4,
    paired,
    rate,
    ratios,
    timed,
)
from workshop.redis_connection import RedisUnavailableError, resolve_redis


def _drain_seconds(ctx: BenchContext, queue_name: str, prefetch: int) -> float:
    """One worker process drains the queue; the seconds its ``start()`` took (as session 4)."""
    from session5_recovery.workers import run_worker_process

    ctx_mp = multiprocessing.get_context("spawn")  # as on macOS and Windows
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx_mp) as pool:
        counts = pool.submit(run_worker_process, "bench-worker", ctx.target.url, queue_name,
                             True, prefetch=prefetch).result()
    return float(counts["seconds"])


def measure_session5(ctx: BenchContext, prefetch_sizes: Sequence[int] = (1, 10), *,
                     with_reference: bool = True) -> list[Measurement]:
    """Session 5's RedisTaskQueue: bulk enqueue, and one worker process per prefetch size.

    ``with_reference``: also measure the reference queue just before and after each
    run, for ratios that a change of load on the machine does not distort.
    """
    from session5_recovery.workers import RedisTaskQueue

    assert ctx.target.url is not None, "the bench needs a Redis server, not fakeredis"
    queue = RedisTaskQueue(url=ctx.target.url, queue_name=f"bench-{uuid.uuid4().hex[:8]}")
    bulk = Measurement("session 5", "enqueue, add_tasks (1 pipeline)", unit="tasks/s",
                       note="one enqueue script call for the whole batch")
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
        for _ in range(ctx.repeat):
            for size, measurement in processing.items():
                queue.clear()
                seconds = timed(lambda: queue.add_tasks([noop] * n))
                if size == prefetch_sizes[0]:
                    bulk.samples.append(rate(n, seconds))

                def drain(size: int = size) -> float:
                    worker_seconds = _drain_seconds(ctx, queue.queue_name, size)
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


def processing_name(prefetch: int) -> str:
    """The measurement's name for one prefetch size (what ``ratios`` looks up)."""
    return "processing, 1 worker process" + ("" if prefetch == 1 else f", prefetch {prefetch}")


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
    measurements = (measure_raw_redis(ctx) + measure_reference(ctx) + measure_session4(ctx)
                    + measure_session5(ctx))
    for m in measurements:
        spread = f"{min(m.samples):,.0f} .. {max(m.samples):,.0f}"
        print(f"{m.group:<10} {m.name:<34} {m.median:>9,.0f} {m.unit:<14} ({spread})")
    for name, value in ratios(measurements).items():
        print(f"{name}: {value:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
