"""Demo: heartbeats. A busy worker stays alive; a frozen one is declared dead, then comes back.

    python session5_recovery/demos/demo_heartbeats.py      (from the repository)
    python demos/demo_heartbeats.py                        (from session5_recovery/)

Two workers. worker-1 gets a task that spins the CPU in pure Python for longer
than the heartbeat TTL: its heartbeat thread keeps the key alive anyway.
worker-2 is idle; we freeze it with SIGSTOP (what a debugger, a swapping
machine or a long garbage-collection pause looks like from outside). Its key
expires, the reaper in worker-1's heartbeat thread declares it dead, and when
we SIGCONT it, it notices that it was taken for dead and registers again.

What to watch: "last beat" grows only for the frozen worker, and "expires in"
counts down to nothing.
"""

from __future__ import annotations

import signal
import sys
import time

from session5_recovery.demos.support import demo_args, fresh_queue, tidy_up, wait_for
from session5_recovery.tools import WorkerFleet, format_timeline
from session5_recovery.workers import RecoverySettings, RedisTaskQueue

QUEUE_NAME = "demo_heartbeats"
SETTINGS = RecoverySettings(heartbeat_interval=0.5, heartbeat_ttl=2.5, reap_interval=0.5)


def show_workers(queue: RedisTaskQueue, note: str = "") -> None:
    now = queue.settings.clock()
    rows = []
    for w in sorted(queue.workers(), key=lambda w: w.worker_id):
        expires = "EXPIRED" if w.ttl_left is None else f"expires in {w.ttl_left:3.1f} s"
        busy = f"busy ({w.in_flight[0][:8]})" if w.in_flight else "idle"
        rows.append(f"{w.worker_id}: last beat {now - w.last_seen:3.1f} s ago, {expires}, {busy}")
    print(f"  {' | '.join(rows) or 'no workers registered'}{'   ' + note if note else ''}")


def watch(queue: RedisTaskQueue, seconds: float, note: str = "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        show_workers(queue, note)
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    keep = demo_args(__doc__, argv, "demo_heartbeats.py").keep
    target, queue = fresh_queue(QUEUE_NAME, SETTINGS)
    print(f"\nheartbeat every {SETTINGS.heartbeat_interval:g} s into "
          f"{queue.keys.heartbeat('<worker>')} with a TTL of {SETTINGS.heartbeat_ttl:g} s, and the "
          f"registry {queue.keys.workers} (worker -> last seen)\n")
    fleet = WorkerFleet(target.url, QUEUE_NAME, settings=SETTINGS, verbose=True)
    try:
        fleet.start(2)
        busy = queue.add_task({"type": "sleep", "seconds": 6, "busy": True})
        wait_for(lambda: queue.locate(busy) and queue.locate(busy)[0].startswith("processing"),
                 20, "the busy task to be claimed")
        print("\n1. a task spins the CPU for 6 s, longer than the 2.5 s TTL:")
        watch(queue, 2.0)

        frozen = next(w for w in fleet.alive() if f"processing:{w}" not in queue.locate(busy))
        fleet.kill(frozen, signal.SIGSTOP)
        print(f"\n2. kill -STOP {frozen}: frozen, so no more heartbeats from it:")
        wait_for(lambda: (show_workers(queue), frozen not in [w.worker_id for w in queue.workers()])[1],
                 20, f"{frozen} to be declared dead", every=0.5)
        print(f"   the reaper (in the busy worker's heartbeat thread) removed {frozen}: "
              f"it had no task, so nothing had to be requeued")

        fleet.kill(frozen, signal.SIGCONT)
        print(f"\n3. kill -CONT {frozen}: it wakes up, its next heartbeat finds the key gone:")
        wait_for(lambda: frozen in [w.worker_id for w in queue.workers()], 20, f"{frozen} to return")
        wait_for(lambda: queue.get_task_info(busy).status.value == "completed", 20, "the busy task")
        show_workers(queue, "(the busy task is done: it was never taken away)")

        print(f"\nworker events (from {queue.keys.events}):")
        for line in format_timeline(queue.events(None)):
            if "worker" in line and "claimed" not in line and "completed" not in line:
                print("   ", line)
        lost = [e for e in queue.events(None) if e.name == "worker_lost"]
        print(f"\n{len(lost)} worker declared dead ({', '.join(e.worker_id for e in lost)}); "
              f"the busy worker never was, though its task outlived the TTL")
        return 0
    finally:
        tidy_up(fleet, queue, keep)


if __name__ == "__main__":
    sys.exit(main())
