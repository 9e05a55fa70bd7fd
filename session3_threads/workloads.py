"""Three kinds of work, and the machinery to time them sequentially, with threads and with processes.

Why three kinds? Because the answer to "do threads make this faster?" depends on what
the work does while it runs:

- ``cpu_task``: pure-Python arithmetic. It holds the GIL the whole time, so only one
  thread runs it at any moment; threads cannot help, processes can.
- ``pillow_task``: Pillow filters on an image file. Pillow's C code releases the GIL
  while it blurs, finds edges and converts, so two threads can really use two cores.
- ``io_task``: waiting (``time.sleep`` stands in for a network call or a disk read).
  A waiting thread releases the GIL, so waits overlap even on one core.

Every function here is a top-level function of an importable module, which is what
``multiprocessing`` needs under the ``spawn`` start method (the default on macOS and
Windows): the child process re-imports this module and looks the function up by name.
Arguments are small (a number, a path), never pixels: sending an image to another
process means pickling and copying every byte of it, which can cost more than the
filter itself. So ``pillow_task`` receives a path and loads the file itself.

The notebooks import these functions, so their signatures are kept stable.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from session2_pipeline.core import default_pipeline, load_image, save_image_atomic

# Sized so one call takes roughly 50-100 ms on a laptop-class core (measured on the
# workshop's 2-core machine: about 75 ms each). Quick mode (tests, notebooks in CI)
# uses much smaller work so the whole comparison takes a few seconds.
CPU_N = 90_000
IO_SECONDS = 0.08
PILLOW_SIZE = (1600, 1200)

QUICK_CPU_N = 5_000
QUICK_IO_SECONDS = 0.01
QUICK_PILLOW_SIZE = (320, 240)

DEFAULT_TASKS = 8
KINDS = ("cpu", "pillow", "io")
MODES = ("sequential", "threads", "processes")


# --------------------------------------------------------------------------- the work


def cpu_task(n: int = CPU_N) -> int:
    """Count the primes below ``n`` by trial division, in pure Python.

    Deliberately naive: every step is a Python bytecode, so the thread running it holds
    the GIL from start to end. ``cpu_task(100)`` is 25.
    """
    if n < 0:
        raise ValueError(f"cpu_task(n={n}): n must be 0 or more")
    count = 0
    for candidate in range(2, n):
        divisor = 2
        while divisor * divisor <= candidate:
            if candidate % divisor == 0:
                break
            divisor += 1
        else:  # no divisor found: the loop ended without break
            count += 1
    return count


def pillow_task(path: str, output_path: str | None = None) -> tuple[int, int]:
    """Load the image at ``path``, run the workers' default pipeline, return the result's size.

    The pipeline is ``core.default_pipeline()`` (blur, edges, grayscale): filters whose C
    code releases the GIL. With ``output_path`` the result is also saved (atomically);
    without it nothing is written, so a benchmark measures the filters, not the disk.
    """
    image = load_image(path)
    result = default_pipeline().apply(image)
    if output_path is not None:
        save_image_atomic(result, output_path)
    return result.size


def io_task(seconds: float = IO_SECONDS) -> float:
    """Wait ``seconds`` (a stand-in for a network call) and return how long was asked for.

    ``time.sleep`` releases the GIL while it waits, like a socket read does.
    """
    if seconds < 0:
        raise ValueError(f"io_task(seconds={seconds}): seconds must be 0 or more")
    time.sleep(seconds)
    return seconds


WORKLOADS: dict[str, Callable[..., Any]] = {"cpu": cpu_task, "pillow": pillow_task, "io": io_task}


# ------------------------------------------------------------------- running the work


def run_sequential(fn: Callable[[Any], Any], args: Sequence[Any]) -> float:
    """Call ``fn(arg)`` for every arg, one after the other; return the elapsed seconds."""
    start = time.perf_counter()
    for arg in args:
        fn(arg)
    return time.perf_counter() - start


def run_threads(fn: Callable[[Any], Any], args: Sequence[Any], workers: int) -> float:
    """Run ``fn(arg)`` for every arg on a pool of ``workers`` threads; return elapsed seconds.

    Starting the pool is inside the timing: that is part of the real cost (small for threads).
    """
    _check_workers(workers)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(fn, args))  # list() waits for every result and re-raises errors
    return time.perf_counter() - start


def run_processes(fn: Callable[[Any], Any], args: Sequence[Any], workers: int,
                  start_method: str | None = None) -> float:
    """Run ``fn(arg)`` for every arg on ``workers`` processes; return elapsed seconds.

    ``fn`` must be a top-level function of an importable module (not ``__main__``, not a
    lambda) so a ``spawn`` child can import it. ``start_method`` is ``"fork"``,
    ``"spawn"``, ``"forkserver"`` or ``None`` for the platform default.

    The timing includes starting the processes and sending every argument and result
    through pipes (pickled): the price processes pay that threads do not.

    ``multiprocessing.Pool`` rather than ``ProcessPoolExecutor``: the Pool starts all
    its processes before its helper threads, while the executor forks its workers
    from a process that already runs its manager thread. Under ``fork`` that is the
    risk Python 3.12+ warns about ("multi-threaded, use of fork() may lead to
    deadlocks"): a lock held by another thread at the fork stays locked in the child.
    """
    _check_workers(workers)
    context = get_context(start_method)
    start = time.perf_counter()
    with context.Pool(processes=workers) as pool:
        pool.map(fn, args)  # waits for every result and re-raises the first error
    return time.perf_counter() - start


def _check_workers(workers: int) -> None:
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r}: use a whole number of workers, 1 or more")


# ------------------------------------------------------------------ measuring the work


def is_quick() -> bool:
    """True when ``WORKSHOP_QUICK=1`` asks for small, fast workloads (tests, CI)."""
    return os.environ.get("WORKSHOP_QUICK", "") not in ("", "0", "false", "no")


def workload_dir() -> Path:
    """Where the generated benchmark images live (under the git-ignored output folder)."""
    from session2_pipeline.core.samples import OUTPUT_DIR

    return OUTPUT_DIR / "session3" / "workload_images"


def make_pillow_inputs(count: int, size: tuple[int, int] = PILLOW_SIZE,
                       folder: str | Path | None = None) -> list[str]:
    """Paths of ``count`` generated JPEGs of ``size``, written once and then reused."""
    from session2_pipeline.core.samples import generated_image

    folder = Path(folder) if folder is not None else workload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    width, height = size
    paths = []
    for index in range(count):
        path = folder / f"bench_{width}x{height}_{index:02d}.jpg"
        if not path.exists():
            generated_image(width, height, seed=index).save(path, quality=90)
        paths.append(str(path))
    return paths


def task_args(kind: str, tasks: int = DEFAULT_TASKS, *, quick: bool | None = None) -> list[Any]:
    """The argument of each of ``tasks`` calls of workload ``kind`` ("cpu", "pillow", "io")."""
    quick = is_quick() if quick is None else quick
    if kind == "cpu":
        return [QUICK_CPU_N if quick else CPU_N] * tasks
    if kind == "io":
        return [QUICK_IO_SECONDS if quick else IO_SECONDS] * tasks
    if kind == "pillow":
        return make_pillow_inputs(tasks, QUICK_PILLOW_SIZE if quick else PILLOW_SIZE)
    raise ValueError(f"unknown workload kind {kind!r}: use one of {', '.join(KINDS)}")


def run_once(kind: str, mode: str, workers: int, args: Sequence[Any],
             start_method: str | None = None) -> float:
    """Time one run of workload ``kind`` over ``args`` in ``mode``; return elapsed seconds."""
    fn = WORKLOADS.get(kind)
    if fn is None:
        raise ValueError(f"unknown workload kind {kind!r}: use one of {', '.join(KINDS)}")
    if mode == "sequential":
        return run_sequential(fn, args)
    if mode == "threads":
        return run_threads(fn, args, workers)
    if mode == "processes":
        return run_processes(fn, args, workers, start_method)
    raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")


def measure(kind: str, workers: int = 1, repeats: int = 3, *, mode: str = "threads",
            tasks: int = DEFAULT_TASKS, quick: bool | None = None,
            start_method: str | None = None) -> float:
    """Median seconds of ``repeats`` runs of ``tasks`` calls of ``kind`` in ``mode``.

    ``mode`` is "sequential" (``workers`` ignored), "threads" or "processes". The median,
    not the mean, because one run disturbed by something else on the machine should not
    move the answer.
    """
    if repeats < 1:
        raise ValueError(f"repeats={repeats}: measure at least once")
    args = task_args(kind, tasks, quick=quick)
    times = [run_once(kind, mode, workers, args, start_method) for _ in range(repeats)]
    return statistics.median(times)
