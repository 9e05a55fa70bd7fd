"""Demo: retries with backoff, a poison task in the dead-letter queue, and a replay.

    python session5_recovery/demos/demo_retries_dlq.py      (from the repository)
    python demos/demo_retries_dlq.py                        (from session5_recovery/)

Three tasks that go wrong in three different ways:

- a *flaky* task fails twice, then succeeds: each failure is retried after an
  exponential backoff with full jitter (the delays are printed);
- a *poison* task kills its worker every time (``os._exit``): the reaper
  requeues it twice, and the third lost attempt sends it to the DLQ instead
  of killing workers for ever. A supervisor (here: this script) restarts the
  crashed workers, as systemd or Kubernetes would;
- an image task whose file does not exist: a *permanent* error, so no retry
  at all: straight to the DLQ. We then create the file and *replay* it.
"""

from __future__ import annotations

import shutil
import sys

from session5_recovery.demos.support import demo_args, fresh_queue, tidy_up, wait_for
from session5_recovery.tools import WorkerFleet, format_timeline
from session5_recovery.workers import RecoverySettings, TaskStatus
from workshop.images import sample_photo
from workshop.paths import OUTPUT_DIR

QUEUE_NAME = "demo_retries_dlq"
SETTINGS = RecoverySettings(heartbeat_interval=0.5, heartbeat_ttl=2.0, reap_interval=0.5,
                            backoff_base=0.5, backoff_factor=2.0, backoff_cap=5.0, max_attempts=3)
FOLDER = OUTPUT_DIR / "session5" / "retries_dlq"


def main(argv: list[str] | None = None) -> int:
    keep = demo_args(__doc__, argv, "demo_retries_dlq.py").keep
    target, queue = fresh_queue(QUEUE_NAME, SETTINGS)
    shutil.rmtree(FOLDER, ignore_errors=True)
    FOLDER.mkdir(parents=True)
    missing = FOLDER / "arrives_later.jpg"
    flaky = queue.add_task({"type": "fail", "times": 2})
    poison = queue.add_task({"type": "crash"})
    image = queue.add_task({"image_path": str(missing), "output_path": str(FOLDER / "out.png")})
    labels = {flaky: "flaky", poison: "poison", image: "missing image"}
    print(f"\nmax_attempts {SETTINGS.max_attempts}; backoff: random() * min({SETTINGS.backoff_cap:g}, "
          f"{SETTINGS.backoff_base:g} * {SETTINGS.backoff_factor:g} ** (attempt - 1)) seconds\n")

    fleet = WorkerFleet(target.url, QUEUE_NAME, settings=SETTINGS, verbose=True)
    try:
        fleet.start(2)

        def settled() -> bool:
            for replacement in fleet.replace_dead():
                print(f"    (supervisor: {replacement.dead} died with exit code "
                      f"{replacement.exitcode}; started {replacement.new})")
            return queue.is_drained()

        wait_for(settled, 60, "the three tasks to settle", every=0.2)

        print("\nwhat happened, from the event stream:")
        for line in format_timeline(queue.events(None), labels=labels, only=set(labels)):
            print("   ", line)

        print("\nthe dead-letter queue (python -m session5_recovery.workers dlq list "
              f"--queue {QUEUE_NAME}):")
        for task in queue.dlq_tasks():
            print(f"    {labels[task.id]}: {task.reason}")
            for entry in task.history:
                print(f"        attempt {entry['attempt']}: {entry['error']}")

        print(f"\nthe missing file arrives ({missing.name}); replay that task from the DLQ:")
        shutil.copy(sample_photo(), missing)
        queue.replay(image)
        wait_for(lambda: queue.get_task_info(image).status is TaskStatus.COMPLETED, 30,
                 "the replayed task")
        info = queue.get_task_info(image)
        print(f"    replayed task completed: {queue.get_result(image)['output_path']} "
              f"(replays: {info.replays}, its error history kept: {len(info.history)} entry)")
        print("    replaying the poison task would only kill workers again: fix the cause first")
        c = queue.conservation()
        print(f"\ninvariant: {c}")
        return 0 if c.holds else 1
    finally:
        tidy_up(fleet, queue, keep)


if __name__ == "__main__":
    sys.exit(main())
