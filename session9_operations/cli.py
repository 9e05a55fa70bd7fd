"""The session's command line (each command's own --help has the details).

    python -m session9_operations autoscale --min 1 --max 8 [--per-worker 10] [--max-age 30]
                                            [--cooldown 10] [--interval 1]
    python -m session9_operations ratelimit set email 10/m    (also: remove, list)
    python -m session9_operations serve --port 8000 [--host 127.0.0.1] [--budget 60/m]
    python -m session9_operations rules check alerts/workshop.yml    (also: rules test)

--redis-url and --queue come before the command: they say which queue it acts on.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from session5_recovery.workers import RecoverySettings, RedisTaskQueue

from .alerting import RULE_TESTS, RULES, RuleFileError, check_rules, test_rules
from .autoscale import Autoscaler, ScalePolicy
from .handlers import HANDLERS
from .process_entry import OperationsFleet
from .ratelimit import RateLimit, RateLimiter, RateLimitError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m session9_operations", epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://localhost:6379/0"))
    parser.add_argument("--queue", default="operations")
    commands = parser.add_subparsers(dest="command", required=True)
    scale = commands.add_parser("autoscale", help="supervise workers, scaled on backlog and age")
    scale.add_argument("--min", type=int, default=1, dest="min_workers")
    scale.add_argument("--max", type=int, default=8, dest="max_workers")
    scale.add_argument("--per-worker", type=int, default=10, help="backlog per worker")
    scale.add_argument("--max-age", type=float, default=30.0, help="seconds a task may wait")
    scale.add_argument("--cooldown", type=float, default=10.0, help="seconds before scaling down")
    scale.add_argument("--interval", type=float, default=1.0, help="seconds between looks")
    limit = commands.add_parser("ratelimit", help="set or list the rate limits of task types")
    limit.add_argument("action", choices=["set", "remove", "list"])
    limit.add_argument("task_type", nargs="?")
    limit.add_argument("limit", nargs="?", help="COUNT/WINDOW, e.g. 10/m, 5/s, 3/2.5")
    serve = commands.add_parser("serve", help="session 6's API with a budget per client")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--budget", default="60/m", help="requests per client, e.g. 60/m")
    rules = commands.add_parser("rules", help="check or test alerting rules with promtool")
    rules.add_argument("action", choices=["check", "test"])
    rules.add_argument("file", nargs="?", type=Path,
                       help="a rule file (check) or a rule test file (test); default: ours")
    args, unknown = parser.parse_known_args(argv)
    if args.command == "ratelimit":
        unknown = take_negative_limit(args, unknown)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "serve":
        return run_server(args)
    if args.command == "rules":
        return run_rules(args.action, args.file)

    if args.command == "ratelimit":
        return run_ratelimit(parser, args)
    queue = RedisTaskQueue.connect(args.redis_url, queue_name=args.queue)
    try:
        policy = ScalePolicy(args.min_workers, args.max_workers, args.per_worker, args.max_age,
                             args.cooldown)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    fleet = OperationsFleet(args.redis_url, args.queue, settings=RecoverySettings(),
                        handlers=HANDLERS, burst=False)
    print(f"autoscaling queue {args.queue!r} between {policy.min_workers} and "
          f"{policy.max_workers} workers (Ctrl+C stops them all gracefully)")
    try:
        Autoscaler(queue, fleet, policy).run(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        fleet.stop()
    return 0


def take_negative_limit(args: argparse.Namespace, unknown: list[str]) -> list[str]:
    """``ratelimit set email -3/s``: argparse reads ``-3/s`` as an option it does not know.

    It is the limit (a wrong one): take it back, so that our own check answers what is
    wrong with it instead of argparse's "unrecognized arguments". What is still unknown
    is returned for argparse to refuse.
    """
    if (args.limit is None and args.task_type is not None and unknown
            and unknown[0].startswith("-") and not unknown[0].startswith("--")):
        args.limit = unknown[0]
        return unknown[1:]
    return unknown


def run_ratelimit(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """set, remove or list the limits; a limit is checked before Redis is asked."""
    limit = None
    if args.action == "set":
        if not args.task_type or not args.limit:
            parser.error("ratelimit set TASK_TYPE COUNT/WINDOW, e.g. ratelimit set email 10/m")
        try:
            limit = RateLimit.parse(args.limit)
        except RateLimitError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    if args.action == "remove" and not args.task_type:
        parser.error("ratelimit remove TASK_TYPE, e.g. ratelimit remove email")
    limiter = RateLimiter(RedisTaskQueue.connect(args.redis_url, queue_name=args.queue))
    if limit is not None:
        limiter.set(args.task_type, limit)
    elif args.action == "remove":
        limiter.remove(args.task_type)
    for kind, rate in sorted(limiter.limits().items()):
        print(f"{kind}: {rate.limit} per {rate.per:g} s")
    return 0


def run_rules(action: str, path: Path | None) -> int:
    try:
        if action == "check":
            count = check_rules(path or RULES)
            print(f"{(path or RULES).name}: {count} rules, all valid")
        else:
            print(test_rules(path or RULE_TESTS), end="")
    except (RuleFileError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def run_server(args: argparse.Namespace) -> int:
    import uvicorn

    from session6_api.cli import stopping_server
    from session6_api.config import ApiConfig

    from .app import create_operations_app

    try:
        budget = RateLimit.parse(args.budget)
    except RateLimitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    config = ApiConfig.from_env(redis_url=args.redis_url, queue_name=args.queue)
    app = create_operations_app(config, budget=budget)
    print(f"session9_operations: http://{args.host}:{args.port}  (docs: /docs)  budget "
          f"{budget.limit} per {budget.per:g} s per client; workers: run them separately "
          f"(autoscale). Ctrl-C stops.", flush=True)
    try:
        stopping_server(app, uvicorn.Config(app, host=args.host, port=args.port,
                                            log_level="warning")).run()
    except KeyboardInterrupt:
        pass
    return 0

