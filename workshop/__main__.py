"""``python -m workshop <command>``: the Makefile's targets, for machines without make.

    python -m workshop demo        the flagship demo
    python -m workshop doctor      preflight checks, each with its fix
    python -m workshop check [N]   your exercise progress (all sessions, or session N)
    python -m workshop hint [N] [K]  the next hint for your first unfinished part
                                   (of session N, exercise K)
    python -m workshop redis       start a local Redis server (or say how to get one)
    python -m workshop bench       queue throughput table
    python -m workshop notebooks   run the notebooks and save their figures
    python -m workshop images DIR  write the sample images into DIR
"""

from __future__ import annotations

import argparse
import importlib
import sys


def _run_demo(_: argparse.Namespace) -> int:
    # The flagship demo is the most advanced session that has one.
    for module in ("session5_recovery.demos.demo_flagship",
                   "session1_basics.demos.demo_producer_consumer"):
        try:
            demo = importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name and module.startswith(error.name):
                continue  # that session is not there: try the next one
            raise
        return demo.main() or 0
    print("No demo found: is the repository complete?", file=sys.stderr)
    return 1


def _run_doctor(_: argparse.Namespace) -> int:
    from .doctor import run_doctor

    return run_doctor()


def _run_check(args: argparse.Namespace) -> int:
    from .check import run_check

    return run_check(args.session)


def _run_hint(args: argparse.Namespace) -> int:
    from .hints import run_hint

    return run_hint(args.session, args.exercise)


def _run_redis(args: argparse.Namespace) -> int:
    from .redis_server import run_local_redis

    return run_local_redis(args.port)


def _run_bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    return bench_main(args.extra) or 0


def _run_notebooks(args: argparse.Namespace) -> int:
    from .notebooks import main as notebooks_main

    return notebooks_main(args.extra) or 0


def _run_images(args: argparse.Namespace) -> int:
    from .images import make_sample_images

    for path in make_sample_images(args.folder, args.count):
        print(path)
    return 0


def _session_range() -> str:
    """'1-8' from the session folders that exist, so a new session needs no edit here."""
    from .paths import session_numbers

    numbers = session_numbers()
    return f"{numbers[0]}-{numbers[-1]}" if numbers else "none yet"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workshop", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the flagship demo").set_defaults(run=_run_demo)
    commands.add_parser("doctor", help="preflight checks").set_defaults(run=_run_doctor)
    check = commands.add_parser("check", help="check your exercises")
    check.add_argument("session", nargs="?", help=f"session number ({_session_range()}); all if omitted")
    check.set_defaults(run=_run_check)
    hint = commands.add_parser("hint", help="the next hint for your first unfinished part")
    hint.add_argument("session", nargs="?", help="session number; the first unfinished if omitted")
    hint.add_argument("exercise", nargs="?", type=int, help="exercise number in that session")
    hint.set_defaults(run=_run_hint)
    redis_command = commands.add_parser("redis", help="start a local Redis server")
    redis_command.add_argument("--port", type=int, default=6379, help="port (default 6379)")
    redis_command.set_defaults(run=_run_redis)
    for name, run in (("bench", _run_bench), ("notebooks", _run_notebooks)):
        # add_help=False: --help goes on to the command's own parser, which lists its options.
        sub = commands.add_parser(name, help=f"run the {name}", add_help=False)
        sub.add_argument("extra", nargs=argparse.REMAINDER, help="options passed on")
        sub.set_defaults(run=run)
    images = commands.add_parser("images", help="write sample images")
    images.add_argument("folder")
    images.add_argument("--count", type=int, default=12)
    images.set_defaults(run=_run_images)
    # bench and notebooks take their own options (--quick, ...): pass on what we do not know.
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command not in ("bench", "notebooks"):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if unknown:
        args.extra = unknown + args.extra
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
