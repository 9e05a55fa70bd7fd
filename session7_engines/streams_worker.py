"""The command that runs our Streams consumer: ``python -m session7_engines.streams_worker``.

    python -m session7_engines.streams_worker --redis-url redis://127.0.0.1:6379/0 \\
        --name s7-images --consumer worker-1 [--min-idle-ms 3000] [--max-deliveries 3] [--burst]

It runs session 2's pipeline through ``work.perform`` (the ledger goes to
``S7_NAMESPACE``), one task at a time, until stopped (SIGTERM: finish the task, then exit).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

import redis

from .streams import StreamQueue, run_worker
from .work import BadTaskError, perform


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m session7_engines.streams_worker",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL",
                                                              "redis://127.0.0.1:6379/0"))
    parser.add_argument("--name", required=True, help="the queue name (key prefix)")
    parser.add_argument("--consumer", default=f"worker-{os.getpid()}")
    parser.add_argument("--min-idle-ms", type=int, default=3000,
                        help="an entry idle this long is taken over by the reaper")
    parser.add_argument("--max-deliveries", type=int, default=3)
    parser.add_argument("--burst", action="store_true", help="exit when the stream is empty")
    args = parser.parse_args(argv)
    client = redis.Redis.from_url(args.redis_url, decode_responses=True)
    queue = StreamQueue(client, args.name, min_idle_ms=args.min_idle_ms,
                        max_deliveries=args.max_deliveries)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_worker(queue, args.consumer, perform, permanent=(BadTaskError,), stop=stop,
               burst=args.burst)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
