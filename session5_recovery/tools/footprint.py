"""How much a drained queue leaves in Redis, before and after retention: measured, not guessed.

    redis-server --port 17210 --save '' &       # a private, empty server
    python -m session5_recovery.tools.footprint --redis-url redis://127.0.0.1:17210/0
    redis-cli -p 17210 shutdown nosave

It enqueues ``--tasks`` no-op tasks (in chunks, as ``add_tasks`` always does), drains
them with one in-process worker, and prints the server's keys and memory three times:
empty, drained, and once ``--result-ttl`` has passed and the retention chore has run.
It also prints what the enqueue cost the server per script call (``INFO
commandstats``) and the slowest call (``SLOWLOG``). It refuses a server that holds
other keys: the figures would not be the queue's alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import redis

from ..workers import QueueKeys, RecoverySettings, RedisTaskQueue, RedisWorker
from ..workers.redis_task_queue import ENQUEUE_CHUNK, TEXT_REPLIES


def server_figures(client: redis.Redis) -> tuple[int, int]:
    """(keys in the database, bytes the server uses for data)."""
    memory = client.info("memory")
    return int(client.dbsize()), int(memory["used_memory"]) - int(memory.get("used_memory_startup", 0))


def script_calls(client: redis.Redis) -> tuple[int, int]:
    """(EVALSHA calls so far, microseconds the server spent in them)."""
    stats = client.info("commandstats").get("cmdstat_evalsha", {})
    return int(stats.get("calls", 0)), int(stats.get("usec", 0))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m session5_recovery.tools.footprint",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", required=True, help="a PRIVATE, empty server")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--result-ttl", type=float, default=60.0,
                        help="seconds a completed task is kept (default 60: longer than the drain)")
    parser.add_argument("--prefetch", type=int, default=50)
    args = parser.parse_args(argv)
    client = redis.Redis.from_url(args.redis_url, **TEXT_REPLIES)
    if client.dbsize():
        raise SystemExit(f"footprint: the server at {args.redis_url} holds {client.dbsize()} "
                         f"key(s); use an empty private one (redis-server --port 17210 --save '')")
    name = "footprint"
    settings = RecoverySettings(result_ttl=args.result_ttl, reap_interval=1.0)
    queue = RedisTaskQueue(client=client, queue_name=name, settings=settings)
    empty = server_figures(client)
    client.slowlog_reset()
    calls_before, usec_before = script_calls(client)
    started = time.perf_counter()
    queue.add_tasks([{"type": "noop"}] * args.tasks)
    enqueue_s = time.perf_counter() - started
    calls, usec = (a - b for a, b in zip(script_calls(client), (calls_before, usec_before),
                                          strict=True))
    slow = [entry["duration"] for entry in client.slowlog_get(1024)
            if " enqueue " in str(entry.get("command", ""))]
    worker = RedisWorker("footprint-worker", queue, log=None, prefetch=args.prefetch)
    started = time.perf_counter()
    worker.start(burst=True, handle_signals=False)
    drain_s = time.perf_counter() - started
    drained = server_figures(client), queue.conservation()
    time.sleep(args.result_ttl)
    while sum(queue.expire()):
        pass
    time.sleep(0.5)  # UNLINK frees memory in the background
    after = server_figures(client), queue.conservation()
    fixed = set(QueueKeys(name).fixed())
    left = sorted(k for k in client.scan_iter(match=f"{queue.keys.prefix}*") if k not in fixed)
    print(f"redis {client.info('server')['redis_version']}, {args.tasks:,} no-op tasks, "
          f"result_ttl {args.result_ttl:g} s, prefetch {args.prefetch}")
    print(f"enqueue: {calls} script calls of up to {ENQUEUE_CHUNK} tasks in {enqueue_s:.2f} s; "
          f"server time per call {usec / max(1, calls) / 1000:.1f} ms on average; "
          f"{len(slow)} call(s) over 10 ms (SLOWLOG)"
          + (f", the slowest {max(slow) / 1000:.1f} ms" if slow else ""))
    print(f"drain:   {drain_s:.1f} s with one worker in this process")
    for label, ((keys, data), c) in (("empty", (empty, None)), ("drained", drained),
                                     (f"after {args.result_ttl:g} s", after)):
        print(f"{label:>14}: {keys:>7,} keys, {data / 1e6:8.2f} MB of data"
              + (f"   ({c})" if c is not None else ""))
    print(f"keys left besides the queue's fixed ones: {len(left)}")
    client.close()
    return 0 if not left and after[1].holds else 1


if __name__ == "__main__":
    sys.exit(main())
