"""Exercise 2: a real-time monitor for the queue.

Counts say where the work is; a rate says when it will be done. A rate needs
two looks at the queue: how many tasks finished between them, divided by the
time between them.

- Part 1, ``take_sample``: one look at the queue (its stats, and when).
- Part 2, ``throughput``: tasks finished (completed + failed) per second
  between two samples.
- Part 3, ``eta_seconds``: how long until nothing is pending or processing.
- Part 4, ``render_rows``: the rows of the monitor's table, as text.

Check your work:   pytest session4_redis/exercises/test_ex2_monitor.py
              or   python -m workshop check 4

``watch`` (given) puts them together in a table that refreshes in place::

    python session4_redis/exercises/ex2_monitor.py          (Ctrl+C to stop)

``python -m session4_redis.workers monitor`` is the finished version: compare
after you are done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from session4_redis.workers import RedisTaskQueue


@dataclass(frozen=True)
class Sample:
    """The queue's counts at one moment; ``at`` is in seconds on some clock."""

    at: float
    pending: int
    processing: int
    completed: int
    failed: int


def take_sample(queue: RedisTaskQueue, clock: Callable[[], float] = time.monotonic) -> Sample:
    """Read the queue's stats once (one ``get_stats`` call) and stamp them with ``clock()``."""
    # TODO Part 1: the four counts must describe one and the same instant.
    raise NotImplementedError(
        "Exercise 2, part 1: build a Sample from queue.get_stats() and clock() "
        "(hint: make hint SESSION=4 EXERCISE=2)")


def throughput(previous: Sample, current: Sample) -> float:
    """Tasks finished (completed + failed) per second between ``previous`` and ``current``.

    Raises ValueError if ``current`` is not later than ``previous``.
    """
    # TODO Part 2: a rate is about change between the two looks, not totals; a worker
    #              that fails tasks fast is busy, not idle.
    raise NotImplementedError(
        "Exercise 2, part 2: finished tasks between the samples divided by the time between "
        "them (hint: make hint SESSION=4 EXERCISE=2)")


def eta_seconds(sample: Sample, rate: float) -> float | None:
    """Seconds until nothing is pending or processing at ``rate`` tasks/s.

    0.0 when there is nothing left; None when work is left but the rate is 0
    (it would never finish at this rate).
    """
    # TODO Part 3: the work not yet finished at this rate; never divide by zero, and
    #              "nothing left" wins over "no progress".
    raise NotImplementedError(
        "Exercise 2, part 3: work left divided by the rate, with the special cases "
        "(hint: make hint SESSION=4 EXERCISE=2)")


def render_rows(previous: Sample | None, current: Sample) -> list[tuple[str, str]]:
    """The table's rows: each state's count, then throughput and ETA, all as text.

    ``[("pending", "3"), ("processing", "1"), ("completed", "10"), ("failed", "2"),
    ("throughput", "2.5 tasks/s"), ("eta", "2 s")]``; throughput with one
    decimal, ETA rounded to whole seconds. Without a previous sample, or when
    the ETA is unknown, the value is ``"-"``.
    """
    # TODO Part 4: exactly the rows and the text of the docstring's example; "-" for a
    #              value that cannot be known yet.
    raise NotImplementedError(
        "Exercise 2, part 4: the rows of the table as (name, text) pairs "
        "(hint: make hint SESSION=4 EXERCISE=2)")


# --- given: the live table -----------------------------------------------------


def watch(queue: RedisTaskQueue, interval: float = 1.0, samples: int | None = None) -> None:
    """Show the table, refreshed in place every ``interval`` s (``samples`` times, or until Ctrl+C)."""
    from rich.live import Live
    from rich.table import Table

    def table(previous: Sample | None, current: Sample) -> Table:
        view = Table("", "", title=f"queue {queue.queue_name!r}", show_header=False)
        for name, value in render_rows(previous, current):
            view.add_row(name, value)
        return view

    previous, current = None, take_sample(queue)
    with Live(table(previous, current), refresh_per_second=4) as live:
        try:
            count = 1
            while samples is None or count < samples:
                time.sleep(interval)
                previous, current = current, take_sample(queue)
                live.update(table(previous, current))
                count += 1
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    from workshop.redis_connection import resolve_redis

    watch(RedisTaskQueue(url=resolve_redis(allow_embedded=False).url))
