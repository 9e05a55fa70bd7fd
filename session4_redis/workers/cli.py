"""The command line: ``python -m session4_redis.workers <command>``.

    worker   [--id NAME] [--burst] [--filters SPECS]    process tasks (Ctrl+C stops after the current one)
    enqueue  [FOLDER] [--count N] [--filters SPECS] [--output DIR]    queue image tasks
    stats    [--json]                                    counts per state
    monitor  [--interval S] [--once] [--duration S]      a live table of counts and throughput

Every command takes ``--redis-url`` (default: $REDIS_URL, else the local server)
and ``--queue`` (default: image_processing). Run several ``worker`` commands in
several terminals to watch them share one queue.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import redis

from session2_pipeline.core import FilterFactory, PipelineInputError, default_pipeline
from session2_pipeline.core.samples import OUTPUT_DIR

from .redis_connection import RedisUnavailableError, resolve_redis
from .redis_task_queue import DEFAULT_QUEUE_NAME, RedisTaskQueue, connection_help

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
SAMPLES_DIR = OUTPUT_DIR / "session4" / "samples"
DEFAULT_OUTPUT_DIR = OUTPUT_DIR / "session4" / "processed"

# The command line needs a server that outlives one command (an embedded one
# would vanish with the `enqueue` that started it), so it never starts one.
SERVER_NOTE = ("The command line needs a Redis server that keeps running between commands, "
               "so it never starts an embedded one for itself (one started by `enqueue` would "
               "vanish when `enqueue` ends). Start one in another terminal: make redis")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--redis-url", default=None,
                        help="redis://host:port/db (default: $REDIS_URL, else redis://localhost:6379/0)")
    common.add_argument("--queue", default=DEFAULT_QUEUE_NAME,
                        help=f"queue name, the prefix of every key (default: {DEFAULT_QUEUE_NAME})")

    parser = argparse.ArgumentParser(
        prog="python -m session4_redis.workers",
        description="Producers, workers and a monitor for a task queue in Redis.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    worker = commands.add_parser("worker", parents=[common], help="process tasks from the queue")
    worker.add_argument("--id", default=None, help="worker name (default: worker-<pid>)")
    worker.add_argument("--burst", action="store_true",
                        help="stop when the queue is empty (default: wait for tasks until Ctrl+C)")
    worker.add_argument("--filters", default=None,
                        help='default pipeline for tasks without filters, e.g. "blur:radius=2|grayscale"')

    enqueue = commands.add_parser("enqueue", parents=[common], help="queue one image task per image")
    enqueue.add_argument("folder", nargs="?", type=Path, help="a folder of images")
    enqueue.add_argument("--count", type=int, default=None,
                         help=f"queue N generated sample images instead (made in {SAMPLES_DIR})")
    enqueue.add_argument("--filters", default=None,
                         help='filters for these tasks, e.g. "blur:radius=2|grayscale" '
                              "(default: the worker's pipeline)")
    enqueue.add_argument("--output", type=Path, default=DEFAULT_OUTPUT_DIR,
                         help=f"folder for the processed images (default: {DEFAULT_OUTPUT_DIR})")

    stats = commands.add_parser("stats", parents=[common], help="counts per state")
    stats.add_argument("--json", action="store_true", help="print JSON only (for scripts)")

    monitor = commands.add_parser("monitor", parents=[common],
                                  help="a live table of counts and throughput (Ctrl+C to stop)")
    monitor.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
    monitor.add_argument("--once", action="store_true", help="print one table and exit")
    monitor.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    return parser


def open_queue(args: argparse.Namespace) -> RedisTaskQueue:
    """Resolve the Redis (flag, $REDIS_URL, local server) and open the queue on it."""
    target = resolve_redis(args.redis_url, allow_embedded=False, announce=False)
    print(target.banner(), file=sys.stderr)  # stderr: `stats --json` keeps stdout pure JSON
    assert target.url is not None
    queue = RedisTaskQueue(url=target.url, queue_name=args.queue)
    queue.check_connection()
    return queue


def cmd_worker(args: argparse.Namespace) -> int:
    from .redis_worker import RedisWorker

    pipeline = FilterFactory.pipeline(args.filters) if args.filters else default_pipeline()
    with open_queue(args) as queue:
        worker_id = args.id or f"worker-{os.getpid()}"
        print(f"{worker_id}: queue {queue.queue_name!r}, default pipeline {pipeline!r}")
        counts = RedisWorker(worker_id, pipeline, queue).start(burst=args.burst)
        print(f"{worker_id}: {counts.completed} completed, {counts.failed} failed")
    return 0


def image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise SystemExit(f"enqueue: {folder} is not a folder; give a folder of images "
                         f"or --count N for generated samples")
    files = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not files:
        raise SystemExit(f"enqueue: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return files


def image_tasks(inputs: Sequence[Path], output_dir: Path, filters: str | None) -> list[dict]:
    """One task per image; paths absolute, so a worker started anywhere finds them."""
    specs = None
    if filters:
        specs = FilterFactory.pipeline(filters).specs()  # checked here, not in the worker
    output_dir = output_dir.resolve()
    tasks = []
    for path in inputs:
        task = {"image_path": str(path.resolve()),
                "output_path": str(output_dir / f"{path.stem}_processed.png")}
        if specs is not None:
            task["filters"] = specs
        tasks.append(task)
    return tasks


def cmd_enqueue(args: argparse.Namespace) -> int:
    from session2_pipeline.core.samples import make_sample_images

    if (args.folder is None) == (args.count is None):
        raise SystemExit("enqueue: give either a FOLDER of images or --count N (not both)")
    if args.count is not None and args.count < 1:
        raise SystemExit(f"enqueue: --count must be at least 1, got {args.count}")
    inputs = (make_sample_images(SAMPLES_DIR, args.count) if args.count is not None
              else image_files(args.folder))
    tasks = image_tasks(inputs, args.output, args.filters)
    with open_queue(args) as queue:
        ids = queue.add_tasks(tasks)  # one round trip for all of them
        stats = queue.get_stats()
    print(f"queued {len(ids)} image tasks on {args.queue!r}; pending now: {stats['pending']}")
    print(f"outputs will go to {args.output.resolve()}")
    print("start a worker:  python -m session4_redis.workers worker --burst")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with open_queue(args) as queue:
        stats = queue.get_stats()
    if args.json:
        print(json.dumps({"queue": args.queue, **stats}))
    else:
        print(f"queue {args.queue!r}: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    from .monitor import run_monitor

    if args.interval <= 0:
        raise SystemExit(f"monitor: --interval must be positive, got {args.interval}")
    with open_queue(args) as queue:
        run_monitor(queue, interval=args.interval, duration=args.duration, once=args.once)
    return 0


COMMANDS = {"worker": cmd_worker, "enqueue": cmd_enqueue, "stats": cmd_stats,
            "monitor": cmd_monitor}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except RedisUnavailableError as error:
        # A learner-facing error: the message says what to do; a traceback would hide it.
        print(f"error: {error}" + ("" if error.explicit else f"\n{SERVER_NOTE}"), file=sys.stderr)
        return 1
    except (redis.ConnectionError, redis.TimeoutError) as error:
        url = args.redis_url or os.environ.get("REDIS_URL")
        print(f"error: {connection_help(url, error)}", file=sys.stderr)
        return 1
    except PipelineInputError as error:  # e.g. --filters "blurr"
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
