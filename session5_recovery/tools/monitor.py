"""A live view of a queue: counts, workers and their heartbeats, recent events, throughput.

``python -m session5_recovery.workers monitor`` redraws it in place with rich's
``Live``. Every refresh also runs the reaper and promotes due retries, so the
monitor alone is enough to recover a dead worker's tasks (``--no-reap`` to only
watch). All the figures come from Redis: the keys' counts, the registry's
last-seen times, the heartbeat keys' TTLs and the event stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..workers.epoch import DATA_LOST_MESSAGE, QueueEpoch, data_lost_note
from ..workers.grace import ReapGrace
from ..workers.redis_task_queue import Conservation, Event, Recovery, RedisTaskQueue, WorkerInfo
from .timeline import STYLES, describe


@dataclass(frozen=True)
class Snapshot:
    """What the monitor shows at one refresh."""

    at: float  # monotonic seconds, for throughput
    now: float  # the queue's clock, for heartbeat ages
    counts: Conservation
    workers: list[WorkerInfo]
    events: list[Event]
    recovered: list[Recovery] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # data lost, reaper holding off


def take_snapshot(queue: RedisTaskQueue, *, reap: bool = True, events: int = 60,
                  clock: Callable[[], float] = time.monotonic, epoch: QueueEpoch | None = None,
                  grace: ReapGrace | None = None) -> Snapshot:
    """One refresh. ``epoch`` (remembered across refreshes) notices a server that lost
    the queue's data; ``grace`` holds the reaper off after a restart or a late round."""
    recovered: list[Recovery] = []
    warnings: list[str] = []
    if epoch is not None and epoch.check() in ("lost", "changed"):
        warnings.append(f"DATA LOST: {DATA_LOST_MESSAGE}")
    elif (note := data_lost_note(queue.client, queue.keys)) is not None:
        warnings.append(note)
    if reap and grace is not None and grace.hold_off():
        warnings.append(f"reaper holding off for {queue.settings.heartbeat_ttl:g} s: {grace.reason}")
        queue.promote_due()
    elif reap:
        recovered, _ = queue.maintain()
    return Snapshot(at=clock(), now=queue.settings.clock(), counts=queue.conservation(),
                    workers=queue.workers(), events=queue.events(events), recovered=recovered,
                    warnings=warnings)


def throughput(previous: Snapshot | None, current: Snapshot) -> float | None:
    """Tasks completed per second between two snapshots."""
    if previous is None or current.at <= previous.at:
        return None
    # Completed tasks that retention deleted in between were completed too.
    done = ((current.counts.completed + current.counts.expired)
            - (previous.counts.completed + previous.counts.expired))
    return max(0, done) / (current.at - previous.at)


def render(queue_name: str, current: Snapshot, previous: Snapshot | None = None, *,
           heartbeat_interval: float = 1.0, show: Callable[[Event], bool] | None = None) -> Group:
    r"""The three tables of one refresh.

    A worker whose last beat is more than two ``heartbeat_interval``\ s old is
    shown as "silent": probably dead, but its key has not expired yet. ``show``
    picks the events worth a line (default: all).
    """
    c = current.counts
    counts = Table(title=f"queue {queue_name!r}", title_justify="left")
    counts.add_column("state")
    counts.add_column("tasks", justify="right")
    for label, value, style in (("pending", c.pending, "yellow"), ("in flight", c.processing, "cyan"),
                                ("delayed", c.delayed, "magenta"), ("completed", c.completed, "green"),
                                ("dead_lettered (DLQ)", c.dead_lettered, "red"),
                                ("cancelled", c.cancelled, "dim"),
                                ("expired (retention)", c.expired, "dim")):
        counts.add_row(f"[{style}]{label}[/]", str(value))
    counts.add_row("enqueued", str(c.enqueued), end_section=True)
    if c.paused:
        counts.add_row("[bold yellow]PAUSED[/]", "no claims")
    counts.add_row("invariant", "[green]holds[/]" if c.holds
                   else f"[bold red]BROKEN: {c.accounted} != {c.enqueued}[/]")
    rate = throughput(previous, current)
    counts.add_row("throughput", "-" if rate is None else f"{rate:.1f}/s")

    workers = Table(title="workers (heartbeat keys expire unless refreshed)", title_justify="left")
    for name in ("worker", "state", "last beat", "expires in", "in flight"):
        workers.add_column(name)
    if not current.workers:
        workers.add_row("[dim]none registered[/]", "", "", "", "")
    for w in sorted(current.workers, key=lambda w: (len(w.worker_id), w.worker_id)):
        age = max(0.0, current.now - w.last_seen)
        if not w.alive:
            state = "[bold red]DEAD (not reaped yet)[/]"
        elif age > 2 * heartbeat_interval:
            state = "[yellow]silent[/]"
        else:
            state = "[green]alive[/]"
        workers.add_row(w.worker_id, state, f"{age:.1f} s ago",
                        "-" if w.ttl_left is None else f"{w.ttl_left:.1f} s",
                        ", ".join(i[:8] for i in w.in_flight) or "[dim]idle[/]")

    events = Table(title="recent events", title_justify="left")
    events.add_column("age", justify="right")
    events.add_column("task")
    events.add_column("event")
    chosen = [e for e in current.events if show is None or show(e)]
    for e in chosen[-12:]:
        events.add_row(f"{max(0.0, current.now - e.ts):.1f} s", (e.task_id or "")[:8],
                       Text(describe(e), style=STYLES.get(e.name, "")))
    top = Table.grid(padding=(0, 2))
    top.add_row(counts, workers)
    parts: list = [Text(w, style="bold red") for w in current.warnings] + [top, events]
    for r in current.recovered:
        parts.append(Text(f"reaper: worker {r.worker_id} was dead; task {r.task_id[:8]} "
                          f"{'requeued' if r.outcome == 'requeued' else 'dead-lettered'}",
                          style="bold magenta"))
    return Group(*parts)


def run_monitor(
    queue: RedisTaskQueue,
    *,
    interval: float = 1.0,
    duration: float | None = None,
    once: bool = False,
    reap: bool = True,
    console: Console | None = None,
    stop: Callable[[], bool] | None = None,
) -> Snapshot:
    """Refresh every ``interval`` s until Ctrl+C, ``duration`` or ``stop()``; the last snapshot.

    ``once`` prints a single view (no live redraw): handy in scripts and tests.
    """
    console = console or Console()
    epoch = QueueEpoch(queue, "monitor")
    grace = ReapGrace(queue.client, queue.settings.heartbeat_ttl, interval, key=queue.keys.workers)
    current = take_snapshot(queue, reap=reap, epoch=epoch, grace=grace)
    if once:
        console.print(render(queue.queue_name, current,
                             heartbeat_interval=queue.settings.heartbeat_interval))
        return current
    deadline = None if duration is None else time.monotonic() + duration
    previous: Snapshot | None = None
    try:
        interval_hb = queue.settings.heartbeat_interval
        with Live(render(queue.queue_name, current, heartbeat_interval=interval_hb),
                  console=console, refresh_per_second=4,
                  transient=False) as live:
            while (deadline is None or time.monotonic() < deadline) and not (stop and stop()):
                time.sleep(interval)
                previous, current = current, take_snapshot(queue, reap=reap, epoch=epoch,
                                                           grace=grace)
                live.update(render(queue.queue_name, current, previous,
                                   heartbeat_interval=interval_hb))
    except KeyboardInterrupt:
        pass
    return current
