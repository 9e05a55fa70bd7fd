"""The flagship demo: image workers that survive a kill -9, flaky tasks and a poison task.

    make demo                                            (or: python -m workshop demo)
    python session5_recovery/demos/demo_flagship.py      (from the repository)
    python demos/demo_flagship.py                        (from session5_recovery/)

What happens, in about 20 seconds:

1. three worker processes start; traffic arrives: real image tasks (the
   workshop's sample photos through blur | edges | grayscale), plus a slow job,
   three flaky tasks that fail once or twice, and one poison task that kills any
   worker that runs it;
2. the worker running the slow job is killed with SIGKILL in the middle of it;
3. the live monitor shows the dead worker's heartbeat expiring, the reaper
   handing its job to another worker, the flaky tasks coming back after their
   backoff, and the poison task killing three workers (each replaced, as a
   supervisor would) before it lands in the dead-letter queue;
4. a summary: completed, retried, recovered, dead-lettered, where the images are.

Runs on the local Redis, REDIS_URL, or an embedded server it starts for itself.
It uses its own queue name and deletes its keys at the end (``--keep`` keeps
them, to look around with ``python -m session5_recovery.workers``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass, field

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from session5_recovery.demos.support import redis_for_processes, tidy_up
from session5_recovery.tools import WorkerFleet, format_timeline
from session5_recovery.tools.monitor import Snapshot, render, take_snapshot
from session5_recovery.workers import Event, RecoverySettings, RedisTaskQueue, TaskStatus
from workshop.console import make_console
from workshop.images import make_sample_images
from workshop.paths import OUTPUT_DIR

QUEUE_NAME = "workshop_flagship"
FOLDER = OUTPUT_DIR / "session5" / "flagship"
# Short enough to watch recovery happen, long enough not to mistake a busy worker for a dead one.
SETTINGS = RecoverySettings(heartbeat_interval=0.5, heartbeat_ttl=2.0, reap_interval=0.5,
                            claim_timeout=0.5, backoff_base=0.5, backoff_factor=2.0,
                            backoff_cap=4.0, max_attempts=3)
TIME_LIMIT = 55.0  # the demo gives up (and says so) rather than run past a minute


@dataclass
class Story:
    """What the demo did, for the panel under the monitor and for the summary."""

    started: float = field(default_factory=time.monotonic)
    lines: list[str] = field(default_factory=list)

    def tell(self, text: str) -> None:
        self.lines.append(f"+{time.monotonic() - self.started:5.1f} s  {text}")

    def panel(self, whole: bool = False) -> Panel:
        """The last 8 lines, or ``whole``: every line (piped output shows only the final panel)."""
        return Panel(Text("\n".join(self.lines if whole else self.lines[-8:])),
                     title="what the demo is doing", title_align="left")


@dataclass
class Plan:
    """The traffic: image tasks in waves, plus the troublemakers at set moments."""

    images: list[dict]
    slow: dict = field(default_factory=lambda: {"type": "sleep", "seconds": 5})
    flaky: list[dict] = field(default_factory=lambda: [
        {"type": "fail", "times": 1}, {"type": "fail", "times": 2}, {"type": "fail", "times": 1}])
    poison: dict = field(default_factory=lambda: {"type": "crash"})


def image_tasks(count: int) -> list[dict]:
    inputs = make_sample_images(FOLDER / "inputs", count=count)
    outputs = FOLDER / "outputs"
    shutil.rmtree(outputs, ignore_errors=True)
    outputs.mkdir(parents=True)
    return [{"image_path": str(path), "output_path": str(outputs / f"{path.stem}.png")}
            for path in inputs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The workshop's flagship demo.")
    parser.add_argument("--workers", type=int, default=3, help="worker processes (default 3)")
    parser.add_argument("--images", type=int, default=30,
                        help="image tasks, one arriving every half second (default 30)")
    parser.add_argument("--keep", action="store_true", help="keep the queue's keys at the end")
    parser.add_argument("--queue", default=QUEUE_NAME, help=f"queue name (default {QUEUE_NAME})")
    args = parser.parse_args(argv if argv is not None else [])
    console = make_console()  # piped or logged: no lines broken at 80 columns
    console.rule("[bold]Task Queues Workshop: workers that survive crashes")
    target = redis_for_processes()
    if target is None:
        return 1
    queue = RedisTaskQueue(url=target.url, queue_name=args.queue, settings=SETTINGS)
    queue.clear()  # our own queue name: a learner's other data is never touched
    plan = Plan(images=image_tasks(args.images))
    story = Story()
    fleet = WorkerFleet(target.url, args.queue, settings=SETTINGS, allowed_dirs=[FOLDER])
    ids: dict[str, str] = {}  # task id -> label
    try:
        console.print(f"starting {args.workers} worker processes (heartbeat every "
                      f"{SETTINGS.heartbeat_interval:g} s, dead after {SETTINGS.heartbeat_ttl:g} s)...")
        fleet.start(args.workers)
        story.tell(f"{args.workers} workers started: {', '.join(fleet.alive())}")
        finished = run_show(console, queue, fleet, plan, story, ids)
        elapsed = time.monotonic() - story.started
        return summary(console, queue, story, ids, elapsed, finished, args.keep)
    except KeyboardInterrupt:
        console.print("\ninterrupted: stopping the workers")
        return 130
    finally:
        tidy_up(fleet, queue, args.keep)


def run_show(console: Console, queue: RedisTaskQueue, fleet: WorkerFleet, plan: Plan,
             story: Story, ids: dict[str, str]) -> bool:
    """Produce the traffic, kill a worker, supervise, and redraw the monitor until drained."""
    waves = [[image] for image in plan.images]  # one new image task per half second
    traffic_start = time.monotonic()
    slow_id = queue.add_task(plan.slow)
    ids[slow_id] = "slow job (5 s)"
    story.tell(f"enqueued the slow job {slow_id[:8]}: its worker will be killed in the middle")
    killed = False
    troublemakers_sent = False
    previous: Snapshot | None = None
    deadline = time.monotonic() + TIME_LIMIT
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        while time.monotonic() < deadline:
            tick = time.monotonic()
            # Traffic keeps arriving, by the clock (a slow refresh must not slow the traffic).
            due = int((tick - traffic_start) / 0.5) + 1 - (len(plan.images) - len(waves))
            for _ in range(min(max(due, 0), len(waves))):
                for task_id in queue.add_tasks(waves.pop(0)):
                    ids[task_id] = "image"
            if not troublemakers_sent and time.monotonic() - story.started > 3.0:
                for task_id in queue.add_tasks(plan.flaky):
                    ids[task_id] = "flaky"
                ids[queue.add_task(plan.poison)] = "poison"
                troublemakers_sent = True
                story.tell("enqueued 3 flaky tasks (fail once or twice) and 1 poison task "
                           "(kills its worker)")
            if not killed:
                killed = kill_the_slow_worker(queue, fleet, slow_id, story)
            for replacement in fleet.replace_dead():
                cause = ("SIGKILL" if replacement.exitcode == -9
                         else f"exit code {replacement.exitcode}: the poison task")
                story.tell(f"supervisor: {replacement.dead} died ({cause}); "
                           f"started {replacement.new}")
            current = take_snapshot(queue, reap=True)  # the monitor runs the reaper too
            for r in current.recovered:
                story.tell(f"monitor's reaper: {r.worker_id} is dead; task {r.task_id[:8]} "
                           f"({ids.get(r.task_id, '?')}) {r.outcome if r.outcome == 'requeued' else 'dead-lettered'}")
            live.update(view(queue, current, previous, story, not console.is_terminal))
            previous = current
            if not waves and troublemakers_sent and killed and queue.is_drained():
                story.tell("queue drained")
                live.update(view(queue, current, previous, story, not console.is_terminal))
                return True
            time.sleep(max(0.05, 0.5 - (time.monotonic() - tick)))
    story.tell(f"gave up after {TIME_LIMIT:.0f} s")
    return False


def interesting(event: Event) -> bool:
    """Skip the routine events (new tasks, first claims) so the dramatic ones stay in view."""
    return not (event.name == "enqueued" or (event.name == "claimed" and event.attempt == 1))


def view(queue: RedisTaskQueue, current: Snapshot, previous: Snapshot | None, story: Story,
         whole_story: bool = False) -> Group:
    return Group(render(queue.queue_name, current, previous, show=interesting,
                        heartbeat_interval=SETTINGS.heartbeat_interval), story.panel(whole_story))


def kill_the_slow_worker(queue: RedisTaskQueue, fleet: WorkerFleet, slow_id: str,
                         story: Story) -> bool:
    """SIGKILL the worker running the slow job, once it is a second into it."""
    info = queue.get_task_info(slow_id)
    if info is None or info.status is not TaskStatus.PROCESSING or info.started_at is None:
        return False
    if queue.settings.clock() - info.started_at < 1.0:
        return False
    victim = info.worker_id
    if victim not in fleet.alive():
        return False
    fleet.kill(victim)
    story.tell(f"kill -9 {victim} (pid {fleet.pid(victim)}), 1 s into the slow job: no goodbye, "
               f"its heartbeat will expire in <= {SETTINGS.heartbeat_ttl:g} s")
    return True


def summary(console: Console, queue: RedisTaskQueue, story: Story, ids: dict[str, str],
            elapsed: float, finished: bool, keep: bool) -> int:
    events = queue.events(None)
    c = queue.conservation()
    completed = [t for t in (queue.get_task_info(i) for i in queue.list_ids("completed")) if t]
    flaky = [t for t in completed if ids.get(t.id) == "flaky"]
    delays = [float(e.fields["delay"]) for e in events if e.name == "retry_scheduled"]
    lost = [e for e in events if e.name == "worker_lost"]
    outputs = sorted((FOLDER / "outputs").glob("*.png"))
    slow = next(i for i, label in ids.items() if label.startswith("slow"))
    poison = next(i for i, label in ids.items() if label == "poison")
    slow_done = next((e for e in events if e.name == "completed" and e.task_id == slow), None)

    if not console.is_terminal:
        console.line()  # piped, the live panel ends without a newline: keep the rule off its border
    console.rule("[bold]summary")
    console.print(f"[green]completed[/]      {len(completed)} of {c.enqueued} tasks, "
                  f"{len(outputs)} of them images")
    console.print(f"[yellow]retried[/]        {len(flaky)} flaky tasks succeeded after "
                  f"{sum(len(t.history) for t in flaky)} failed attempts; backoff delays "
                  f"{', '.join(f'{d:.2f}' for d in delays)} s (full jitter)")
    if slow_done is not None:
        console.print(f"[magenta]recovered[/]      the slow job, whose worker was killed, completed "
                      f"on {slow_done.worker_id} (attempt {slow_done.attempt})")
    console.print(f"[magenta]workers lost[/]   {len(lost)}: 1 killed by the demo, the others by the "
                  f"poison task; the supervisor replaced each one")
    for task in queue.dlq_tasks():
        console.print(f"[red]dead-lettered[/]  {ids.get(task.id, task.id[:8])}: {task.reason}")
    console.print(f"outputs        {FOLDER / 'outputs'}")
    console.print(f"invariant      {c}")
    console.print(f"time           {elapsed:.1f} s")
    for label, task_id in (("the slow job (its worker was killed)", slow), ("the poison task", poison)):
        console.print(f"\ntimeline of {label}, from the event stream {queue.keys.events}:")
        for line in format_timeline(events, labels=ids, only={task_id}):
            console.print(f"  {line}", highlight=False)
    console.print("\nnext: the demos one by one (python session5_recovery/demos/demo_heartbeats.py, "
                  "demo_auto_recovery.py, demo_retries_dlq.py), then session5_recovery/README.md")
    if keep:
        console.print(f"keys kept: python -m session5_recovery.workers stats --queue {queue.queue_name}")
    ok = finished and c.holds and len(completed) == c.enqueued - 1
    if not ok:
        console.print("[bold red]something did not go as planned: see above[/]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
