"""The command line: ``python -m session5_recovery.workers <command>``.

    worker   [--id NAME] [--burst] [--filters SPECS] [--allow DIR] [--prefetch N]
             [--heartbeat-interval S] [--heartbeat-ttl S]      process tasks
    enqueue  [FOLDER] [--count N] [--task JSON] [--repeat N] [--max-attempts N]
             [--priority high|normal|low]                      queue image (or any JSON) tasks
    stats    [--json]                                          counts per state + the invariant
    monitor  [--interval S] [--once] [--duration S] [--no-reap]    live view; runs the reaper
    dlq      list [--json] | replay ID... | replay --all | purge --yes
    reap     [--sweep]                                         recover dead workers' tasks now
    events   [--count N]                                       the event stream as a timeline

Every command takes ``--redis-url`` (default: $REDIS_URL, else the local server;
a single server or any node of a Redis Cluster) and ``--queue`` (default:
image_processing). Session 4's commands work the same;
``dlq``, ``reap`` and ``events`` are new.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import redis

from session2_pipeline.core import FilterFactory, PipelineInputError, default_pipeline
from session2_pipeline.core.samples import OUTPUT_DIR
from session4_redis.workers.redis_connection import (
    RedisUnavailableError,
    check_url_scheme,
    resolve_redis,
)

from ..workers.cluster import cluster_note, redis_client
from ..workers.epoch import data_lost_note
from ..workers.instance import WorkerIdInUseError
from ..workers.keys import check_name
from ..workers.redis_task_queue import (
    DEFAULT_QUEUE_NAME,
    ENQUEUE_CHUNK,
    MAX_CLAIM,
    TEXT_REPLIES,
    RedisTaskQueue,
    connection_help,
)
from ..workers.server_checks import EvictingServerError, check_eviction_policy
from ..workers.settings import SECONDS_ALLOWED, RecoverySettings
from ..workers.task import parse_json_text

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
SAMPLES_DIR = OUTPUT_DIR / "session5" / "samples"
DEFAULT_OUTPUT_DIR = OUTPUT_DIR / "session5" / "processed"

# The command line needs a server that outlives one command (an embedded one
# would vanish with the `enqueue` that started it), so it never starts one.
SERVER_NOTE = ("The command line needs a Redis server that keeps running between commands, "
               "so it never starts an embedded one for itself (one started by `enqueue` would "
               "vanish when `enqueue` ends). Start one in another terminal: make redis")


@dataclass(frozen=True)
class Program:
    """Who runs these commands: the name ``--help`` shows and the defaults it starts from.

    Session 6 runs the same commands on its own queue (``python -m session6_api.workers``):
    it passes its own ``Program`` instead of copying this module.
    """

    name: str = "python -m session5_recovery.workers"
    description: str = "Workers that survive crashes: heartbeats, a reaper, retries and a DLQ."
    queue: str = DEFAULT_QUEUE_NAME
    samples_dir: Path = SAMPLES_DIR
    output_dir: Path = DEFAULT_OUTPUT_DIR
    worker_note: str = ""  # said after "start a worker: ..." when workers may already run


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (what was wrong, what is allowed), no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# Argument types: each raises ArgumentTypeError with what is allowed, and argparse
# adds the argument's name ("argument --interval: ...").

def seconds(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:  # also refuses nan; inf is above any high
            raise argparse.ArgumentTypeError(
                f"must be a number of seconds from {low:g} to {high:g}, got {text!r}")
        return value
    return parse


def whole_number(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, got {text!r}")
        return value
    return parse


def key_name(what: str, example: str) -> Callable[[str], str]:
    """A queue or worker name: the queue's one rule for names (keys.check_name), at the door."""
    def parse(text: str) -> str:
        try:
            return check_name(what, text, example)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return parse


def redis_url(text: str) -> str:
    try:
        check_url_scheme(text, "")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).strip()) from None
    return text


def build_parser(program: Program | None = None) -> argparse.ArgumentParser:
    program = program or Program()
    common = OneLineParser(add_help=False)
    common.add_argument("--redis-url", default=None, type=redis_url,
                        help="redis://host:port/db (default: $REDIS_URL, else redis://localhost:6379/0)")
    common.add_argument("--queue", default=program.queue,
                        type=key_name("queue name", program.queue),
                        help=f"queue name, the prefix of every key (default: {program.queue})")
    common.add_argument("--allow-eviction", action="store_true",
                        help="work even if the server's maxmemory-policy deletes keys when full "
                             "(tasks may vanish; without this, worker and enqueue refuse)")

    # The dlq actions accept the same options after the action (`dlq list --queue q`);
    # SUPPRESS keeps a value given before it (`dlq --queue q list`) from being reset.
    nested = OneLineParser(add_help=False)
    nested.add_argument("--redis-url", default=argparse.SUPPRESS, type=redis_url,
                        help=argparse.SUPPRESS)
    nested.add_argument("--queue", default=argparse.SUPPRESS,
                        type=key_name("queue name", program.queue),
                        help=argparse.SUPPRESS)

    parser = OneLineParser(prog=program.name, description=program.description)
    parser.set_defaults(program=program)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = RecoverySettings()

    worker = commands.add_parser("worker", parents=[common], help="process tasks from the queue")
    worker.add_argument("--id", default=None, type=key_name("worker id", "worker-1"),
                        help="worker name (default: worker-<pid>)")
    worker.add_argument("--burst", action="store_true",
                        help="stop when the queue is drained (default: wait for tasks until Ctrl+C)")
    worker.add_argument("--filters", default=None,
                        help='default pipeline for tasks without filters, e.g. "blur:radius=2|grayscale"')
    worker.add_argument("--allow", action="append", type=Path, default=None, metavar="DIR",
                        help="a folder image tasks may read and write (repeatable; default: the "
                             "current folder and the workshop's output/)")
    worker.add_argument("--heartbeat-interval", type=seconds(*SECONDS_ALLOWED["heartbeat_interval"]), default=defaults.heartbeat_interval,
                        help=f"seconds between heartbeats (default {defaults.heartbeat_interval:g})")
    worker.add_argument("--heartbeat-ttl", type=seconds(*SECONDS_ALLOWED["heartbeat_ttl"]), default=defaults.heartbeat_ttl,
                        help=f"a worker silent this long is dead (default {defaults.heartbeat_ttl:g})")
    worker.add_argument("--time-limit", type=seconds(0, 7 * 86_400),
                        default=defaults.task_time_limit,
                        help=f"seconds one attempt may run before it is interrupted and counted "
                             f"as failed; 0: no limit (default {defaults.task_time_limit:g})")
    worker.add_argument("--prefetch", type=int, default=1, metavar="N",
                        help="claim up to N tasks per call (default 1; see README, 'Prefetch')")
    worker.add_argument("--quiet", action="store_true", help="no line per task")

    enqueue = commands.add_parser("enqueue", parents=[common],
                                  help="queue one image task per image, or JSON tasks")
    enqueue.add_argument("folder", nargs="?", type=Path, help="a folder of images")
    enqueue.add_argument("--count", type=whole_number(1), default=None,
                         help=f"queue N generated sample images instead (made in {program.samples_dir})")
    enqueue.add_argument("--filters", default=None,
                         help='filters for these tasks, e.g. "blur:radius=2|grayscale"')
    enqueue.add_argument("--output", type=Path, default=program.output_dir,
                         help=f"folder for the processed images (default: {program.output_dir})")
    enqueue.add_argument("--task", action="append", default=None, metavar="JSON",
                         help='a task as JSON, e.g. \'{"type": "fail", "times": 2}\' (repeatable)')
    enqueue.add_argument("--repeat", type=whole_number(1), default=1, help="queue each --task N times")
    enqueue.add_argument("--max-attempts", type=whole_number(1), default=None,
                         help=f"attempts before the DLQ (default {defaults.max_attempts})")
    enqueue.add_argument("--priority", choices=("high", "normal", "low"), default="normal",
                         help="claimed before (high) or after (low) normal tasks")
    enqueue.add_argument("--delay", type=seconds(0, 365 * 86_400), default=None, metavar="S",
                         help="wait S seconds before the tasks become pending (in the delayed "
                              "set, like a retry)")

    stats = commands.add_parser("stats", parents=[common], help="counts per state")
    stats.add_argument("--json", action="store_true", help="print JSON only (for scripts)")

    monitor = commands.add_parser("monitor", parents=[common],
                                  help="a live view: counts, workers, events (Ctrl+C to stop)")
    monitor.add_argument("--interval", type=seconds(0.05, 3600), default=1.0, help="seconds between refreshes")
    monitor.add_argument("--once", action="store_true", help="print one view and exit")
    monitor.add_argument("--duration", type=seconds(0, 86_400), default=None, help="stop after S seconds")
    monitor.add_argument("--no-reap", action="store_true",
                         help="only watch: do not run the reaper or promote retries")

    dlq = commands.add_parser("dlq", parents=[common], help="the dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    listing = dlq_commands.add_parser("list", parents=[nested], help="dead-lettered tasks, newest first")
    listing.add_argument("--json", action="store_true", help="print JSON only")
    listing.add_argument("--limit", type=whole_number(1), default=None, help="at most N tasks")
    replay = dlq_commands.add_parser("replay", parents=[nested],
                                     help="send tasks back to pending with fresh attempts")
    replay.add_argument("ids", nargs="*", help="task ids (from dlq list)")
    replay.add_argument("--all", action="store_true", help="replay every dead-lettered task")
    purge = dlq_commands.add_parser("purge", parents=[nested], help="delete every dead-lettered task")
    purge.add_argument("--yes", action="store_true", help="really delete them")

    reap = commands.add_parser("reap", parents=[common],
                               help="requeue the tasks of dead workers and promote due retries, once")
    reap.add_argument("--sweep", action="store_true",
                      help="also SCAN the whole keyspace for processing lists outside the worker "
                           "registry (slow on a big database; only after editing keys by hand)")
    events = commands.add_parser("events", parents=[common], help="the event stream as a timeline")
    events.add_argument("--count", type=whole_number(1), default=40, help="the last N events (default 40)")
    return parser


@contextmanager
def open_queue(args: argparse.Namespace,
               settings: RecoverySettings | None = None) -> Iterator[RedisTaskQueue]:
    """Resolve the Redis (flag, $REDIS_URL, local server), open the queue on it, close it after.

    The URL may name a single server or any node of a Redis Cluster (cluster.py).
    """
    target = resolve_redis(args.redis_url, allow_embedded=False, announce=False)
    print(target.banner(), file=sys.stderr)  # stderr: --json output keeps stdout pure JSON
    assert target.url is not None
    try:
        client = redis_client(target.url, **TEXT_REPLIES)
    except ValueError as error:  # a cluster URL with a database other than 0
        raise RedisUnavailableError(str(error), explicit=True) from None
    try:
        queue = RedisTaskQueue(client=client, url=target.url, queue_name=args.queue,
                               settings=settings)
        queue.check_connection()
        if note := cluster_note(client, queue.keys.workers):
            print(note, file=sys.stderr)
        # Commands that write tasks refuse an evicting server; the others only warn.
        refuse = args.command in ("worker", "enqueue") and not getattr(args, "allow_eviction", False)
        warning = check_eviction_policy(client, key=queue.keys.workers, allow_eviction=not refuse,
                                        flag="--allow-eviction")
        if warning:
            print(warning, file=sys.stderr)
        yield queue
    finally:
        client.close()


def cmd_worker(args: argparse.Namespace) -> int:
    from ..workers.redis_worker import RedisWorker

    try:
        settings = RecoverySettings(heartbeat_interval=args.heartbeat_interval,
                                    heartbeat_ttl=args.heartbeat_ttl,
                                    task_time_limit=args.time_limit or None)
        if not 1 <= args.prefetch <= MAX_CLAIM:
            raise ValueError(f"--prefetch must be from 1 to {MAX_CLAIM}, got {args.prefetch}")
    except ValueError as error:
        raise SystemExit(f"worker: {error}") from None
    pipeline = FilterFactory.pipeline(args.filters) if args.filters else default_pipeline()
    with open_queue(args, settings) as queue:
        worker_id = args.id or f"worker-{os.getpid()}"
        print(f"{worker_id} (pid {os.getpid()}): queue {queue.queue_name!r}, pipeline "
              f"{pipeline!r}, heartbeat every {settings.heartbeat_interval:g} s (dead after "
              f"{settings.heartbeat_ttl:g} s), prefetch {args.prefetch}", flush=True)
        worker = RedisWorker(worker_id, queue, pipeline=pipeline, allowed_dirs=args.allow,
                             log=None if args.quiet else print, prefetch=args.prefetch,
                             kill_children=True, allow_eviction=args.allow_eviction)
        counts = worker.start(burst=args.burst)
        print(f"{worker_id}: {counts.completed} completed, {counts.retried} retried, "
              f"{counts.dead_lettered} dead-lettered, {counts.refused} refused, "
              f"{counts.requeued} requeued")
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
    specs = FilterFactory.pipeline(filters).specs() if filters else None  # checked here
    output_dir = output_dir.resolve()
    tasks = []
    for path in inputs:
        task: dict[str, Any] = {"image_path": str(path.resolve()),
                                "output_path": str(output_dir / f"{path.stem}_processed.png")}
        if specs is not None:
            task["filters"] = specs
        tasks.append(task)
    return tasks


def json_tasks(texts: Sequence[str], repeat: int) -> list[dict]:
    tasks = []
    for text in texts:
        try:
            task = parse_json_text(text, "--task")
        except json.JSONDecodeError as error:
            raise SystemExit(f"enqueue: --task {text!r} is not JSON ({error}); for example "
                             f"--task '{{\"type\": \"sleep\", \"seconds\": 2}}'") from None
        except ValueError as error:  # nested too deep
            raise SystemExit(f"enqueue: {error}") from None
        if not isinstance(task, dict):
            raise SystemExit(f"enqueue: --task must be a JSON object, got {text!r}")
        tasks.extend(dict(task) for _ in range(repeat))
    return tasks


def cmd_enqueue(args: argparse.Namespace) -> int:
    from session2_pipeline.core.samples import make_sample_images

    sources = sum(x is not None for x in (args.folder, args.count, args.task))
    if sources != 1:
        raise SystemExit("enqueue: give exactly one of: a FOLDER of images, --count N, "
                         "or --task JSON")
    if args.count is not None and args.count < 1:
        raise SystemExit(f"enqueue: --count must be at least 1, got {args.count}")
    if args.repeat < 1:
        raise SystemExit(f"enqueue: --repeat must be at least 1, got {args.repeat}")
    if args.task:
        tasks = json_tasks(args.task, args.repeat)
    else:
        inputs = (make_sample_images(args.program.samples_dir, args.count) if args.count is not None
                  else image_files(args.folder))
        tasks = image_tasks(inputs, args.output, args.filters)
    with open_queue(args) as queue:
        try:
            ids = queue.add_tasks(tasks, max_attempts=args.max_attempts, priority=args.priority,
                                  delay=args.delay)
        except (TypeError, ValueError) as error:
            raise SystemExit(f"enqueue: {error}") from None
        except redis.exceptions.OutOfMemoryError as error:
            before = getattr(error, "queued_before", 0)
            done = (f"none of the {len(tasks)} task(s) was queued" if not before else
                    f"{before} of the {len(tasks)} task(s) were queued before it filled up, "
                    f"the others were not (tasks go in chunks of {ENQUEUE_CHUNK}, each all or "
                    f"nothing)")
            raise SystemExit(f"enqueue: Redis is full (maxmemory reached, it refuses writes): "
                             f"{done}; make room or raise maxmemory, then run this again") from None
        stats = queue.get_stats()
    skipped = f" ({ids.already} already there)" if ids.already else ""
    waiting = f", delayed now: {stats['delayed']}" if stats["delayed"] else ""
    print(f"queued {ids.queued} task(s) on {args.queue!r}{skipped}; pending now: "
          f"{stats['pending']}{waiting}")
    if not args.task:
        print(f"outputs will go to {args.output.resolve()}")
    queue_flag = "" if args.queue == args.program.queue else f" --queue {args.queue}"
    note = f"  ({args.program.worker_note})" if args.program.worker_note else ""
    print(f"start a worker:  {args.program.name} worker{queue_flag}{note}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with open_queue(args) as queue:
        stats = queue.get_stats()
        conservation = queue.conservation()
        # "0 == enqueued 0" proves nothing if the server lost everything: say so.
        lost = data_lost_note(queue.client, queue.keys)
    if args.json:
        print(json.dumps({"queue": args.queue, **stats, "conservation_holds": conservation.holds,
                          "data_lost": lost}))
    else:
        print(f"queue {args.queue!r}: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
        print(f"invariant: {conservation}")
        if lost:
            print(lost)
    return 0 if conservation.holds and not lost else 3


def cmd_monitor(args: argparse.Namespace) -> int:
    from .monitor import run_monitor

    if args.interval <= 0:
        raise SystemExit(f"monitor: --interval must be positive, got {args.interval}")
    with open_queue(args) as queue:
        run_monitor(queue, interval=args.interval, duration=args.duration, once=args.once,
                    reap=not args.no_reap)
    return 0


def cmd_dlq(args: argparse.Namespace) -> int:
    with open_queue(args) as queue:
        if args.dlq_command == "list":
            tasks = queue.dlq_tasks(args.limit)
            if args.json:
                print(json.dumps([t.to_dict() for t in tasks], indent=2))
                return 0
            if not tasks:
                print(f"the DLQ of {args.queue!r} is empty")
            for t in tasks:
                print(f"{t.id}  {t.type:<6} attempts {t.attempts}/{t.max_attempts}  {t.reason}")
                for h in t.history:
                    print(f"    attempt {h.get('attempt', '?')}: {h.get('error', '')}")
            return 0
        if args.dlq_command == "replay":
            if args.all == bool(args.ids):
                raise SystemExit("dlq replay: give task ids, or --all (not both)")
            if args.all:
                print(f"replayed {queue.replay_all()} task(s)")
                return 0
            missing = [i for i in args.ids if not queue.replay(i)]
            print(f"replayed {len(args.ids) - len(missing)} task(s)")
            if missing:
                print(f"not in the DLQ: {', '.join(missing)} (see `dlq list`)", file=sys.stderr)
                return 1
            return 0
        if not args.yes:
            raise SystemExit(f"dlq purge deletes {len(queue.dlq_ids())} task(s) for good; "
                             f"add --yes to do it")
        print(f"purged {queue.purge_dlq()} task(s)")
        return 0


def cmd_reap(args: argparse.Namespace) -> int:
    with open_queue(args) as queue:
        recovered = queue.sweep() if args.sweep else queue.reap()
        promoted = queue.promote_due()
    for r in recovered:
        print(f"worker {r.worker_id} is dead: task {r.task_id} "
              f"{'requeued' if r.outcome == 'requeued' else 'moved to the DLQ'}")
    print(f"reaped {len(recovered)} task(s) of dead workers; promoted {promoted} due retr"
          f"{'y' if promoted == 1 else 'ies'}")
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    from .timeline import format_timeline

    with open_queue(args) as queue:
        lines = format_timeline(queue.events(args.count))
    print("\n".join(lines) if lines else f"no events on {args.queue!r} yet")
    return 0


COMMANDS = {"worker": cmd_worker, "enqueue": cmd_enqueue, "stats": cmd_stats,
            "monitor": cmd_monitor, "dlq": cmd_dlq, "reap": cmd_reap, "events": cmd_events}


def main(argv: Sequence[str] | None = None, program: Program | None = None) -> int:
    args = build_parser(program).parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (EvictingServerError, WorkerIdInUseError) as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1
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
