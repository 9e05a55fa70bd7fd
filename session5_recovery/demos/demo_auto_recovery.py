"""Demo: kill -9 a worker mid-task; its task comes back and completes on another worker.

    python session5_recovery/demos/demo_auto_recovery.py      (from the repository)
    python demos/demo_auto_recovery.py                        (from session5_recovery/)

Session 4's demo_stuck_tasks ended with a task stuck in "processing" for ever.
Same experiment, session-5 queue, default settings (a heartbeat every 1 s, dead
after 5 s): the killed worker's heartbeat key expires, the other worker's
heartbeat thread runs the reaper, and the task is requeued and completed. The
timeline at the end is read back from the event stream ``{q}:events``.
"""

from __future__ import annotations

import sys
import time

from session5_recovery.demos.support import demo_args, fresh_queue, tidy_up, wait_for
from session5_recovery.tools import WorkerFleet, format_timeline
from session5_recovery.workers import RecoverySettings

QUEUE_NAME = "demo_auto_recovery"


def main(argv: list[str] | None = None) -> int:
    keep = demo_args(__doc__, argv, "demo_auto_recovery.py").keep
    settings = RecoverySettings()  # the defaults: heartbeat 1 s, TTL 5 s, reaper every 1 s
    target, queue = fresh_queue(QUEUE_NAME, settings)
    labels = dict(zip(queue.add_tasks([{"type": "sleep", "seconds": 2} for _ in range(3)]),
                      ["job-A (2 s)", "job-B (2 s)", "job-C (2 s)"], strict=True))
    print(f"\nqueued 3 jobs of 2 s each; settings: heartbeat every {settings.heartbeat_interval:g} s, "
          f"a worker is dead {settings.heartbeat_ttl:g} s after its last heartbeat\n")

    fleet = WorkerFleet(target.url, QUEUE_NAME, settings=settings, verbose=True)
    try:
        fleet.start(2)
        victim = "worker-1"
        claim = wait_for(lambda: next((e for e in queue.events(None) if e.name == "claimed"
                                       and e.worker_id == victim), None), 30, f"{victim} to claim a job")
        doomed = claim.task_id
        time.sleep(0.5)  # let it get properly into the job
        fleet.kill(victim)  # SIGKILL: no signal handler, no finally, no goodbye
        killed_at = time.time()  # wall-clock time, like the events' timestamps
        print(f"\n*** kill -9 {victim} (pid {fleet.pid(victim)}) in the middle of {labels[doomed]} ***\n")

        def requeued() -> bool:
            infos = {w.worker_id: w for w in queue.workers()}
            dead = infos.get(victim)
            if dead is not None:
                left = "expired" if dead.ttl_left is None else f"expires in {dead.ttl_left:.1f} s"
                print(f"    {victim}'s heartbeat {left}; {labels[doomed]} is still in "
                      f"{queue.keys.processing(victim)}")
            return queue.locate(doomed) != [f"processing:{victim}"]

        wait_for(requeued, 30, "the reaper", every=1.0)
        back = next(e for e in queue.events(None) if e.name == "requeued" and e.task_id == doomed)
        requeued_after = back.ts - killed_at
        print(f"\n*** the reaper requeued {labels[doomed]} {requeued_after:.1f} s after the kill ***\n")
        wait_for(queue.is_drained, 30, "every job to finish")
        done = next(e for e in queue.events(None) if e.name == "completed" and e.task_id == doomed)
        completed_after = done.ts - killed_at

        print(f"\ntimeline of {labels[doomed]} (from the event stream {queue.keys.events}):")
        for line in format_timeline(queue.events(None), labels=labels, only={doomed}):
            print("   ", line)
        c = queue.conservation()
        print(f"\n{labels[doomed]} was completed by {done.worker_id} on attempt {done.attempt}; "
              f"requeued {requeued_after:.1f} s and completed {completed_after:.1f} s after the kill")
        print(f"invariant: {c}")
        print("the 'lost' attempt stays counted: a task that kills every worker ends in the DLQ "
              "after max_attempts (see demo_retries_dlq.py)")
        return 0 if c.holds else 1
    finally:
        tidy_up(fleet, queue, keep)


if __name__ == "__main__":
    sys.exit(main())
