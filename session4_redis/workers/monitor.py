"""A live view of a queue: counts per state, and how fast tasks are finishing.

Throughput needs two looks at the queue: the number of tasks that finished
(completed + failed) between two samples, divided by the time between them.
Counts alone say where the work is; the rate says when it will be done.

``python -m session4_redis.workers monitor`` draws this table in place with
rich's ``Live``, once per interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .keys import STATES
from .redis_task_queue import RedisTaskQueue


@dataclass(frozen=True)
class StatsSample:
    """The queue's counts at one moment (``at`` is in seconds, from a monotonic clock)."""

    at: float
    stats: dict[str, int]

    @property
    def finished(self) -> int:
        return self.stats["completed"] + self.stats["failed"]


def take_sample(queue: RedisTaskQueue, clock: Callable[[], float] = time.monotonic) -> StatsSample:
    return StatsSample(at=clock(), stats=queue.get_stats())


def throughput(previous: StatsSample | None, current: StatsSample) -> float | None:
    """Tasks finished per second between two samples; None without two samples in time order."""
    if previous is None or current.at <= previous.at:
        return None
    return max(0, current.finished - previous.finished) / (current.at - previous.at)


def eta_seconds(pending: int, processing: int, rate: float | None) -> float | None:
    """Roughly how long until the queue is drained at ``rate``; None if it is not moving."""
    if pending + processing == 0:
        return 0.0
    if not rate:
        return None
    return (pending + processing) / rate


def render_table(queue_name: str, current: StatsSample,
                 previous: StatsSample | None = None) -> Table:
    """The monitor's table for one refresh."""
    table = Table(title=f"queue {queue_name!r}", title_justify="left")
    table.add_column("state")
    table.add_column("tasks", justify="right")
    styles = {"pending": "yellow", "processing": "cyan", "completed": "green", "failed": "red"}
    for state in STATES:
        table.add_row(f"[{styles[state]}]{state}[/]", str(current.stats[state]))
    table.add_row("total", str(current.stats["total"]), end_section=True)
    rate = throughput(previous, current)
    table.add_row("throughput", "-" if rate is None else f"{rate:.1f} tasks/s")
    eta = eta_seconds(current.stats["pending"], current.stats["processing"], rate)
    table.add_row("drained in", "-" if eta is None else f"~{eta:.0f} s")
    return table


def run_monitor(
    queue: RedisTaskQueue,
    *,
    interval: float = 1.0,
    duration: float | None = None,
    once: bool = False,
    console: Console | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> StatsSample:
    """Show the table, refreshing in place every ``interval`` s, until Ctrl+C or ``duration``.

    ``once`` prints a single table (no live refresh; handy in scripts and
    tests). Returns the last sample.
    """
    console = console or Console()
    current = take_sample(queue, clock)
    if once:
        console.print(render_table(queue.queue_name, current))
        return current
    started = current.at
    previous: StatsSample | None = None
    with Live(render_table(queue.queue_name, current), console=console,
              refresh_per_second=4, transient=False) as live:
        try:
            while duration is None or clock() - started < duration:
                sleep(interval)
                previous, current = current, take_sample(queue, clock)
                live.update(render_table(queue.queue_name, current, previous))
        except KeyboardInterrupt:
            pass  # Ctrl+C is how a monitor is meant to end
    console.line()  # the last table stays on screen; the shell prompt goes below it
    return current
