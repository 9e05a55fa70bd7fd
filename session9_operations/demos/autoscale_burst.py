"""Demo: a burst of tasks, the autoscaler scales the fleet up, drains it and back down.

    python session9_operations/demos/autoscale_burst.py                 (from the repository)
    python demos/autoscale_burst.py --tasks 500 --max 8                 (from session9_operations/)

500 short tasks arrive at once. The autoscaler (``Autoscaler`` on session 5's
``WorkerFleet``) reads the backlog and the oldest task's age every half second,
starts workers up to ``--max``, and after the cooldown stops the idle ones with the
graceful SIGTERM until ``--min`` are left. Every task writes one line to a ledger
when it starts: at the end, every task ran, and none ran twice. The worker count
and the backlog over time are printed and plotted to output/session9/autoscale.png.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

from session5_recovery.demos.support import fresh_queue
from session5_recovery.workers import RecoverySettings
from session9_operations.autoscale import Autoscaler, ScalePolicy
from session9_operations.handlers import HANDLERS, LEDGER_ENV, read_ledger
from session9_operations.process_entry import OperationsFleet
from workshop.paths import OUTPUT_DIR

QUEUE_NAME = "demo_autoscale"
SETTINGS = RecoverySettings(heartbeat_interval=0.5, heartbeat_ttl=3.0, reap_interval=0.2,
                            claim_timeout=0.5)
FOLDER = OUTPUT_DIR / "session9"


def plot(scaler: Autoscaler, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = scaler.timeline[0].at
    seconds = [s.at - start for s in scaler.timeline]
    figure, backlog_axis = plt.subplots(figsize=(8, 3.5))
    backlog_axis.plot(seconds, [s.backlog for s in scaler.timeline], color="tab:gray",
                      label="backlog (pending tasks)")
    backlog_axis.set_xlabel("seconds")
    backlog_axis.set_ylabel("pending tasks")
    workers_axis = backlog_axis.twinx()
    workers_axis.step(seconds, [s.workers for s in scaler.timeline], where="post",
                      color="tab:blue", label="workers")
    workers_axis.set_ylabel("workers")
    figure.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=0.05, help="each task's duration")
    parser.add_argument("--min", type=int, default=1, dest="min_workers")
    parser.add_argument("--max", type=int, default=8, dest="max_workers")
    args = parser.parse_args(argv)
    policy = ScalePolicy(args.min_workers, args.max_workers, tasks_per_worker=25, max_age=5.0,
                         cooldown=2.0)
    target, queue = fresh_queue(QUEUE_NAME, SETTINGS)
    FOLDER.mkdir(parents=True, exist_ok=True)
    ledger = FOLDER / "autoscale_ledger.txt"
    ledger.unlink(missing_ok=True)
    os.environ[LEDGER_ENV] = str(ledger)  # the worker processes inherit it
    fleet = OperationsFleet(target.url or "", QUEUE_NAME, settings=SETTINGS, handlers=HANDLERS)
    scaler = Autoscaler(queue, fleet, policy)
    fleet.start(policy.min_workers)
    ids = queue.add_tasks([{"type": "ledger", "seconds": args.seconds} for _ in range(args.tasks)])
    print(f"{args.tasks} tasks of {args.seconds:g} s queued; autoscaling between "
          f"{policy.min_workers} and {policy.max_workers} workers")
    started = time.monotonic()
    try:
        target = policy.min_workers
        while True:
            decision = scaler.tick()
            sample = scaler.timeline[-1]
            if decision.target != target:
                print(f"  {time.monotonic() - started:5.1f} s  backlog {sample.backlog:4d}  "
                      f"workers {target} -> {decision.target}  ({decision.reason})", flush=True)
                target = decision.target
            if queue.is_drained() and sample.workers == policy.min_workers:
                break
            time.sleep(0.5)
    finally:
        fleet.stop()
    runs = Counter(row.task_id for row in read_ledger(ledger))
    print(f"drained and back to {policy.min_workers} worker(s) after "
          f"{time.monotonic() - started:.1f} s; peak {max(s.workers for s in scaler.timeline)} "
          f"workers")
    print(f"ledger: {len(runs)} of {len(ids)} tasks ran, {sum(runs.values()) - len(runs)} ran "
          f"twice; lost: {len(set(ids) - set(runs))}")
    figure = FOLDER / "autoscale.png"
    plot(scaler, figure)
    print(f"plot: {figure}")
    queue.clear()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
