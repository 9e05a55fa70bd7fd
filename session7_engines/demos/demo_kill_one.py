"""kill -9 the process running a task, on one engine, and watch what the engine does.

    python session7_engines/demos/demo_kill_one.py --engine celery
    python session7_engines/demos/demo_kill_one.py --engine celery --defaults
    python session7_engines/demos/demo_kill_one.py --engine dramatiq --repeat 5

Starts the engine's own worker command, enqueues a 1 s task, SIGKILLs the process
running it (the task wrote its pid to the ledger when it started), then follows
the task for up to 60 s, restarting the worker command if it exited (as systemd
would). Prints one line per kill: did it come back and after how long, how many
runs, where it ended. ``--repeat`` kills that many tasks, one after another, on
the same workers: Dramatiq's recovery delay is drawn by chance, and varies a lot.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from session7_engines.compare import ENGINES, kill_mid_task, make_runner
from workshop.redis_connection import resolve_redis

BOUND_S = 60.0


def outcome(row: dict) -> str:
    """One line for a kill: what happened to the task, in words."""
    if "error" in row:
        return row["error"]
    back = (f"came back after {row['recovery_s']:.2f} s" if row["came_back"]
            else "did not come back")
    return f"{back}; runs: {row['runs']}; ended: {row['ended']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=[e for e in ENGINES if "+prefetch" not in e],
                        default="celery")
    parser.add_argument("--defaults", action="store_true", help="the engine's own defaults")
    parser.add_argument("--repeat", type=int, default=1, help="kill this many tasks (default 1)")
    args = parser.parse_args(argv)
    target = resolve_redis()
    if not target.multiprocess:
        parser.error("this demo needs a real Redis server (make redis, or set REDIS_URL)")
    profile = "defaults" if args.defaults else "recommended"
    with tempfile.TemporaryDirectory(prefix="s7-demo-") as tmp, \
            make_runner(args.engine, target.url, Path(tmp), profile) as runner:
        print(f"starting {args.engine} ({profile}) ...")
        runner.start(1)
        for n in range(1, args.repeat + 1):
            row = kill_mid_task(runner, BOUND_S, tag=f"kill{n}")
            print(f"{args.engine} ({profile}), kill {n}: {outcome(row)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
