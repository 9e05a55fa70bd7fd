"""Demo: what the GIL allows, measured on this machine.

Run from the repository root or from inside session3_threads:

    python session3_threads/demos/demo_gil.py            # about 20 s on 2 cores
    python demos/demo_gil.py --quick                      # a few seconds, tiny work

The same number of tasks of three kinds (pure-Python CPU work, Pillow filters, an
I/O wait) runs sequentially, with 2 and 4 threads and with 2 and 4 processes. Each
run is repeated and the median is reported, with the speedup over sequential and the
efficiency (speedup per worker, and against this machine's cores).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.table import Table

from session3_threads.workloads import (
    CPU_N,
    DEFAULT_TASKS,
    IO_SECONDS,
    KINDS,
    PILLOW_SIZE,
    QUICK_CPU_N,
    QUICK_IO_SECONDS,
    QUICK_PILLOW_SIZE,
    WORKLOADS,
    run_once,
    task_args,
)
from workshop.console import make_console

# Warn when other programs use more than this share of the CPU (all cores together).
BUSY_WARNING = 0.15

# (mode, workers) in the order of the table rows.
PLAN: tuple[tuple[str, int], ...] = (
    ("sequential", 1),
    ("threads", 2),
    ("threads", 4),
    ("processes", 2),
    ("processes", 4),
)


@dataclass
class Measurement:
    """One row of the table: the median time of one (kind, mode, workers) and what it means."""

    kind: str
    mode: str
    workers: int
    times: list[float]
    sequential: float = 0.0  # the median sequential time of the same kind, for the speedup
    cores: int = 1

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def speedup(self) -> float:
        return self.sequential / self.median

    @property
    def efficiency(self) -> float:
        """Speedup per worker: 100% means every worker did a full share of useful work."""
        return self.speedup / self.workers

    @property
    def vs_cores(self) -> float:
        """Speedup against what the cores allow: min(workers, cores) is the CPU-bound limit."""
        return self.speedup / min(self.workers, self.cores)

    @property
    def label(self) -> str:
        return "sequential" if self.mode == "sequential" else f"{self.workers} {self.mode}"


def describe_kind(kind: str, quick: bool) -> str:
    """A title for one kind of work: what each task does."""
    if kind == "cpu":
        return f"Pure-Python CPU: count primes below {QUICK_CPU_N if quick else CPU_N:,}"
    if kind == "pillow":
        width, height = QUICK_PILLOW_SIZE if quick else PILLOW_SIZE
        return f"Pillow: {width}x{height} JPEG, blur | edges | grayscale"
    return f"I/O wait: time.sleep({QUICK_IO_SECONDS if quick else IO_SECONDS})"


def explain(kind: str, rows: dict[str, Measurement], cores: int) -> str:
    """The sentence under a kind's table: why its rows look the way they do."""
    t2, t4 = rows["2 threads"].speedup, rows["4 threads"].speedup
    p2, p4 = rows["2 processes"].speedup, rows["4 processes"].speedup
    if kind == "cpu":
        return (f"Pure Python holds the GIL, so only one thread runs it at a time: "
                f"{t2:.2f}x with 2 threads, {t4:.2f}x with 4. Each process has its own "
                f"interpreter and GIL: {p2:.2f}x with 2 processes, {p4:.2f}x with 4; on "
                f"{cores} cores nothing can beat {cores}x.")
    if kind == "pillow":
        return (f"Pillow releases the GIL inside its C filters (blur, edges, convert), so "
                f"threads run them in parallel: {t2:.2f}x with 2 threads, {t4:.2f}x with 4. "
                f"Processes ({p2:.2f}x, {p4:.2f}x) also pay to start and to pickle arguments "
                f"and results, which is why tasks carry paths, not pixels.")
    return (f"A waiting thread releases the GIL and needs no core, so the waits overlap: "
            f"{t2:.2f}x with 2 threads, {t4:.2f}x with 4, on {cores} cores. Processes "
            f"overlap waits too ({p2:.2f}x, {p4:.2f}x) but each one costs a start-up.")


def run_comparison(*, tasks: int = DEFAULT_TASKS, repeats: int = 3, quick: bool = False,
                   kinds: tuple[str, ...] = KINDS, start_method: str | None = None,
                   progress: Callable[[str], None] | None = None) -> dict[str, list[Measurement]]:
    """Time every kind in every (mode, workers) of ``PLAN``; return the rows per kind.

    The repeats are interleaved (sequential, 2 threads, ..., then again) so a slow
    moment on the machine spreads over all rows instead of spoiling one.
    """
    cores = os.cpu_count() or 1
    results: dict[str, list[Measurement]] = {}
    for kind in kinds:
        args = task_args(kind, tasks, quick=quick)
        WORKLOADS[kind](args[0])  # warm-up: imports, file cache, first-call costs
        rows = [Measurement(kind, mode, workers, [], cores=cores) for mode, workers in PLAN]
        for repeat in range(repeats):
            for row in rows:
                if progress:
                    progress(f"{kind}: {row.label} (run {repeat + 1}/{repeats})")
                row.times.append(run_once(kind, row.mode, row.workers, args, start_method))
        for row in rows:
            row.sequential = rows[0].median
        results[kind] = rows
    return results


def build_tables(results: dict[str, list[Measurement]], *,
                 quick: bool = False) -> list[tuple[Table, str]]:
    """One rich table per kind of work, each with the sentence that explains it."""
    tables = []
    for kind, rows in results.items():
        cores = rows[0].cores
        table = Table(title=describe_kind(kind, quick), title_justify="left")
        table.add_column("mode")
        table.add_column("median s", justify="right")
        table.add_column("speedup", justify="right")
        table.add_column("efficiency", justify="right")
        table.add_column("vs cores", justify="right")
        for row in rows:
            table.add_row(row.label, f"{row.median:.3f}", f"{row.speedup:.2f}x",
                          f"{row.efficiency:.0%}", f"{row.vs_cores:.0%}")
        tables.append((table, explain(kind, {row.label: row for row in rows}, cores)))
    return tables


class OtherLoad:
    """How much CPU *other* programs used since this object was made (Linux only).

    Busy CPU time of the whole machine (from /proc/stat) minus the CPU time of this
    process and its finished children (``os.times``), as a fraction of what the cores
    could give. Parallel speedups mean nothing if something else was using the cores.
    """

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as stat:
                ticks = [int(v) for v in stat.readline().split()[1:9]]
            ticks_per_second = os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, AttributeError):  # not Linux
            return None
        busy = (sum(ticks) - ticks[3] - ticks[4]) / ticks_per_second  # all but idle, iowait
        me = os.times()
        mine = me.user + me.system + me.children_user + me.children_system
        return time.monotonic(), busy, mine

    def fraction(self) -> float | None:
        """Share of all cores' time used by other programs so far (0 to 1), or None."""
        end = self._sample()
        if self._start is None or end is None or end[0] <= self._start[0]:
            return None
        elapsed = end[0] - self._start[0]
        others = (end[1] - self._start[1]) - (end[2] - self._start[2])
        return min(1.0, max(0.0, others / (elapsed * (os.cpu_count() or 1))))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny work and one run: checks the machinery in seconds")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per row; the median is shown (default 3, quick 1)")
    parser.add_argument("--tasks", type=int, default=None,
                        help=f"tasks per run (default {DEFAULT_TASKS}, quick 4)")
    parser.add_argument("--start-method", choices=multiprocessing.get_all_start_methods(),
                        default=None, help="how processes start (default: the platform's)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    tasks = args.tasks or (4 if args.quick else DEFAULT_TASKS)
    start_method = args.start_method or multiprocessing.get_start_method()

    console = make_console()
    cores = os.cpu_count() or 1
    console.print(f"[bold]Machine:[/bold] {cores} CPU cores (os.cpu_count()), Python "
                  f"{platform.python_version()} on {platform.system()} {platform.machine()}, "
                  f"processes start with {start_method!r}")
    console.print(f"Each row: {tasks} tasks, median of {repeats} run(s). Speedup = sequential "
                  f"time / row time; efficiency = speedup / workers; vs cores = speedup / "
                  f"min(workers, {cores} cores).\n")
    before = OtherLoad()
    time.sleep(0.5)
    busy = before.fraction()
    if busy is not None and busy > BUSY_WARNING:
        console.print(f"[yellow]Other programs are using {busy:.0%} of the CPU right now: "
                      f"parallel speedups will come out lower than this machine can do. "
                      f"Close them and run again.[/yellow]\n")
    during = OtherLoad()
    started = time.perf_counter()
    with console.status("measuring...") as status:
        results = run_comparison(tasks=tasks, repeats=repeats, quick=args.quick,
                                 start_method=start_method,
                                 progress=lambda text: status.update(f"measuring {text}"))
    for table, sentence in build_tables(results, quick=args.quick):
        console.print(table)
        console.print(f"[italic]{sentence}[/italic]\n")
    console.print(f"Process timings include starting the pool ({start_method}) and pickling "
                  f"arguments and results. Above 100% 'vs cores' is possible only for work "
                  f"that waits instead of computing.")
    console.print(f"[dim]Measured in {time.perf_counter() - started:.1f} s. Your machine's "
                  f"numbers will differ; the pattern should not.[/dim]")
    busy = during.fraction()
    if busy is not None and busy > BUSY_WARNING:
        console.print(f"[yellow]Other programs used {busy:.0%} of the CPU while this ran, so "
                      f"the parallel rows are too low. Run again on an idle machine.[/yellow]")


if __name__ == "__main__":
    main()
