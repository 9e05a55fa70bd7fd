"""Demo: three schedulers, the leader killed with SIGKILL every few seconds; nothing doubles.

    python session8_workflows/demos/demo_scheduler_failover.py              (20 s)
    python session8_workflows/demos/demo_scheduler_failover.py --seconds 120
    python demos/demo_scheduler_failover.py                   (from session8_workflows/)

Three ``python -m session8_workflows scheduler`` processes share one schedule
that fires every second. Every few seconds the demo finds the leader (the token
in the lease key names it) and kills it with SIGKILL, then starts a replacement,
so there are always three. No worker runs: every firing stays in pending, where
it is counted. The closing note compares the due times in the run with the
firings in the queue: due, fired, doubled, missed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from session5_recovery.demos.support import redis_for_processes
from session5_recovery.workers import RecoverySettings
from session8_workflows import Schedule, WorkflowQueue

QUEUE_NAME = "demo_scheduler_failover"
SCHEDULE = Schedule("every-second", {"type": "noop"}, every=1, misfire_grace=10)
LEASE_TTL = 1.0
TICK = 0.1


def run_failover(redis_url: str, queue_name: str, seconds: float, kill_every: float = 3.0,
                 say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the experiment; return its figures (due, fired, doubled, missed, kills, takeovers)."""
    queue = WorkflowQueue(url=redis_url, queue_name=queue_name, settings=RecoverySettings())
    queue.clear()
    with tempfile.TemporaryDirectory() as tmp:
        schedules = Path(tmp) / "schedules.json"
        schedules.write_text(json.dumps([SCHEDULE.as_json()]), encoding="utf-8")
        procs: dict[str, subprocess.Popen] = {}
        started = 0

        def start_one() -> None:
            nonlocal started
            started += 1
            name = f"sched-{started}"
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "session8_workflows", "scheduler", "--schedules",
                 str(schedules), "--id", name, "--lease-ttl", str(LEASE_TTL), "--tick", str(TICK),
                 "--redis-url", redis_url, "--queue", queue_name],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def leader() -> str | None:
            token = queue.client.get(queue.s8.leader)
            return token.split(":", 1)[0] if token else None

        kills = 0
        try:
            for _ in range(3):
                start_one()
            deadline = time.monotonic() + 60
            # The first one up takes the lease, then (one round trip later) registers the
            # schedule, starting it at its own clock: wait for both, or a read in between
            # would count every due time since 1970 as missed.
            while leader() is None or queue.client.hget(queue.s8.last_due, SCHEDULE.name) is None:
                if time.monotonic() > deadline:
                    raise RuntimeError("no scheduler took the lease and registered the "
                                       "schedule within 60 s")
                time.sleep(0.05)
            first_due = float(queue.client.hget(queue.s8.last_due, SCHEDULE.name))
            say(f"{leader()} leads; first due time after {first_due:.0f}")
            end = time.monotonic() + seconds
            next_kill = time.monotonic() + kill_every
            while time.monotonic() < end:
                time.sleep(0.05)
                if time.monotonic() < next_kill or end - time.monotonic() < 2 * LEASE_TTL:
                    continue  # (no kill in the last moments: a successor must have time to lead)
                victim = leader()
                if victim in procs and procs[victim].poll() is None:
                    os.kill(procs[victim].pid, signal.SIGKILL)
                    procs[victim].wait()
                    del procs[victim]
                    kills += 1
                    say(f"kill -9 {victim} (the leader); starting a replacement")
                    start_one()
                next_kill = time.monotonic() + kill_every
            # Stop: SIGTERM (a clean exit releases the lease), then read what happened.
            for proc in procs.values():
                proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                proc.wait(timeout=30)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    last_due = float(queue.client.hget(queue.s8.last_due, SCHEDULE.name) or first_due)
    due = list(SCHEDULE.due_between(first_due, last_due))
    prefix = f"sched:{SCHEDULE.name}:"
    enqueued = Counter(e.task_id for e in queue.events(None)
                       if e.name == "enqueued" and (e.task_id or "").startswith(prefix))
    held = set(queue.list_ids("pending"))
    fired = [d for d in due if SCHEDULE.task_id(d) in held]
    takeovers = sum(1 for e in queue.events(None) if e.name == "leader_elected")
    figures = {"seconds": seconds, "kill_every": kill_every, "kills": kills,
               "leaders_elected": takeovers, "due": len(due), "fired": len(fired),
               "doubled": sum(1 for n in enqueued.values() if n > 1),
               "missed": len(due) - len(fired),
               "extra": len(held) - len(fired)}
    queue.clear()
    queue.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo_scheduler_failover.py",
                                     description=__doc__.strip().splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--kill-every", type=float, default=3.0)
    args = parser.parse_args(argv)
    target = redis_for_processes()
    if target is None:
        return 1
    figures = run_failover(target.url, QUEUE_NAME, args.seconds, args.kill_every)
    print(f"\ndue {figures['due']}, fired {figures['fired']}, doubled {figures['doubled']}, "
          f"missed {figures['missed']}  ({figures['kills']} leaders killed, "
          f"{figures['leaders_elected']} elections, {figures['seconds']:g} s)")
    return 0 if figures["doubled"] == figures["missed"] == figures["extra"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
