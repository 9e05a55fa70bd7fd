"""The command line: ``python -m session8_workflows <command>``.

    scheduler --schedules FILE [--id NAME] [--lease-ttl S] [--tick S] [--duration S]
                                  fire schedules while this process holds the lease
    show ID [--json]              a workflow as a tree of its tasks and their states
                                  (or one task, with its progress)
    worker  [--id NAME] [--burst] [--allow DIR]
                                  session 5's worker, running workflow tasks

Every command takes ``--redis-url`` (default: $REDIS_URL, else the local server)
and ``--queue`` (default: image_processing). A schedules file is a JSON list of
``{"name", "task", "cron" | "every", "misfire"?, "misfire_grace"?, "until"?}``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis

from session4_redis.workers.redis_connection import RedisUnavailableError
from session5_recovery.tools.cli import OneLineParser
from session5_recovery.workers import DEFAULT_QUEUE_NAME, RecoverySettings

from .engine import WorkflowView
from .scheduler import DEFAULT_LEASE_TTL, DEFAULT_TICK, Scheduler
from .schedules import Schedule, ScheduleError
from .worker import make_worker
from .workflow_queue import WorkflowQueue

LOCAL_URL = "redis://localhost:6379/0"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or LOCAL_URL)
    common.add_argument("--queue", default=DEFAULT_QUEUE_NAME)
    parser = OneLineParser(prog="python -m session8_workflows",
                           description="Schedules and workflows on session 5's queue.")
    commands = parser.add_subparsers(dest="command", required=True)
    sched = commands.add_parser("scheduler", parents=[common], help="run a scheduler")
    sched.add_argument("--schedules", required=True, type=Path, help="a JSON file: a list of schedules")
    sched.add_argument("--id", default=None, help="this scheduler's name (default: host-pid)")
    sched.add_argument("--lease-ttl", type=float, default=DEFAULT_LEASE_TTL)
    sched.add_argument("--tick", type=float, default=DEFAULT_TICK)
    sched.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    show = commands.add_parser("show", parents=[common], help="a workflow's tree, or one task")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    worker = commands.add_parser("worker", parents=[common], help="run a workflow worker")
    worker.add_argument("--id", default=f"worker-{os.getpid()}")
    worker.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    worker.add_argument("--allow", action="append", default=None, metavar="DIR")
    return parser


def load_schedules(path: Path) -> list[Schedule]:
    """The schedules in a JSON file; ScheduleError (one line) for anything wrong."""
    try:
        specs = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScheduleError(f"cannot read the schedules file {str(path)!r}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ScheduleError(f"the schedules file {str(path)!r} is not JSON: {error}") from None
    if not isinstance(specs, list) or not specs:
        raise ScheduleError(f"the schedules file {str(path)!r} must hold a non-empty JSON list")
    return [Schedule.from_json(spec) for spec in specs]


def format_tree(view: WorkflowView) -> str:
    """The workflow as a tree: one line per task, with what it waits for and its state."""
    done = view.total - view.remaining
    head = f"workflow {view.id}: {view.state} ({done} of {view.total} done, policy {view.policy})"
    lines = [head + (f"\n  reason: {view.reason}" if view.reason else "")]
    for index, node in enumerate(view.nodes):
        branch = "└──" if index == len(view.nodes) - 1 else "├──"
        after = f" after {_ranges(node.parents)}" if node.parents else ""
        progress = (f"  [{node.progress[0]}/{node.progress[1]} {node.progress[2]}]"
                    if node.progress else "")
        lines.append(f"{branch} {node.task_id:<22} {node.type:<14} {node.state}{after}{progress}")
    return "\n".join(lines)


def _ranges(names: Sequence[str]) -> str:
    """'0-7' for 0,1,...,7; '3' for one; '0-2,5' otherwise."""
    numbers = sorted(int(n) for n in names)
    parts, start = [], numbers[0]
    for prev, cur in zip(numbers, [*numbers[1:], None], strict=True):
        if cur != prev + 1:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = cur
    return ",".join(parts)


def cmd_show(queue: WorkflowQueue, args: argparse.Namespace) -> int:
    try:
        view = queue.workflows.view(args.id)
    except KeyError:
        task = queue.get_task_info(args.id)
        due = queue.client.zscore(queue.s8.staged, args.id)
        if task is None and due is not None:
            print(json.dumps({"id": args.id, "status": "staged", "due": due}))
            return 0
        if task is None:
            print(f"error: no workflow and no task with id {args.id!r} in queue {args.queue!r}",
                  file=sys.stderr)
            return 1
        fields = queue.client.hmget(queue.keys.task(args.id), "progress_done", "progress_total",
                                    "progress_message")
        record: dict[str, Any] = {"id": task.id, "type": task.type, "status": str(task.status),
                                  "attempts": task.attempts, "reason": task.reason,
                                  "result": task.result}
        if task.due_at is not None:  # delayed: a retry, or added with run_at/delay
            record["due"] = task.due_at
        if fields[0] is not None:
            record["progress"] = {"done": int(fields[0]), "total": int(fields[1]),
                                  "message": fields[2]}
        print(json.dumps(record, indent=2 if not args.json else None))
        return 0
    if args.json:
        print(json.dumps({"id": view.id, "state": view.state, "reason": view.reason,
                          "nodes": [{"task": n.task_id, "type": n.type, "state": n.state,
                                     "after": list(n.parents)} for n in view.nodes]}))
    else:
        print(format_tree(view))
    return 0


def cmd_scheduler(queue: WorkflowQueue, args: argparse.Namespace) -> int:
    schedules = load_schedules(args.schedules)
    scheduler = Scheduler(queue, schedules, scheduler_id=args.id, lease_ttl=args.lease_ttl,
                          tick_interval=args.tick,
                          log=lambda line: print(line, flush=True))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if args.duration is not None:
        threading.Timer(args.duration, stop.set).start()
    print(f"scheduler {scheduler.id}: {len(schedules)} schedule(s) on queue {args.queue!r}, "
          f"lease {args.lease_ttl:g} s", flush=True)
    scheduler.run(stop)
    print(f"scheduler {scheduler.id}: stopped; {json.dumps(scheduler.stats)}", flush=True)
    return 0


def cmd_worker(queue: WorkflowQueue, args: argparse.Namespace) -> int:
    worker = make_worker(args.id, queue, allowed_dirs=args.allow, kill_children=True)
    counts = worker.start(burst=args.burst)
    print(json.dumps(counts.as_dict()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # connect(): a single server or a Redis Cluster node, checked now
        queue = WorkflowQueue.connect(args.redis_url, queue_name=args.queue,
                                      settings=RecoverySettings())
        handler = {"show": cmd_show, "scheduler": cmd_scheduler, "worker": cmd_worker}[args.command]
        return handler(queue, args)
    except (ScheduleError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (RedisUnavailableError, redis.ConnectionError, redis.TimeoutError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
