"""Demo: three worker processes share one Redis queue, measured against one process and threads.

    python session4_redis/demos/demo_distributed_workers.py      (from the repository)
    python demos/demo_distributed_workers.py                     (from session4_redis/)

The same image tasks are processed three times, each run timed from the
moment every worker is ready (process start-up is shown apart):

1. one worker process on the Redis queue (the baseline);
2. three worker processes on the Redis queue;
3. session 3's pool of three threads on the in-memory queue.

Worker processes need a Redis *server* they can all reach: a local one,
REDIS_URL, or the embedded one this demo starts for itself. In-process
fakeredis cannot be shared between processes, so it is never used here.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import Counter
from pathlib import Path

from rich.table import Table

from session2_pipeline.core import DEFAULT_PIPELINE_SPECS
from session4_redis.workers import RedisTaskQueue, run_worker_process
from workshop.console import make_console
from workshop.images import make_sample_images
from workshop.paths import OUTPUT_DIR
from workshop.redis_connection import HOW_TO_GET_REDIS, RedisUnavailableError, resolve_redis

QUEUE_NAME = "demo_distributed"
TASKS = 18
PROCESSES = 3
INPUTS = OUTPUT_DIR / "session4" / "distributed_inputs"
OUTPUTS = OUTPUT_DIR / "session4" / "distributed"
# Big enough that each task takes a noticeable time (about 0.1 s here), so the
# work, not the queue, dominates what we measure.
SIZES = ((2048, 1536), (1600, 1200))

console = make_console()


def image_tasks(inputs: list[Path], run: str) -> list[dict]:
    return [{"image_path": str(path), "output_path": str(OUTPUTS / run / f"{path.stem}.jpg")}
            for path in inputs]


def run_processes(url: str, inputs: list[Path], workers: int) -> dict:
    """Queue the tasks, start ``workers`` processes, time them from 'all ready' to 'all done'."""
    queue = RedisTaskQueue(url=url, queue_name=QUEUE_NAME)
    queue.clear()
    ids = queue.add_tasks(image_tasks(inputs, f"{workers}_processes"))
    # spawn: a fresh interpreter per worker, as on macOS and Windows. The target
    # must be importable (run_worker_process lives in a module, not in this script).
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(workers + 1)  # the workers and this process
    processes = [ctx.Process(target=run_worker_process,
                             args=(f"worker-{i}", url, QUEUE_NAME, True, ready))
                 for i in range(1, workers + 1)]
    launched = time.perf_counter()
    for process in processes:
        process.start()
    ready.wait()  # returns when every worker has connected and is about to claim
    started = time.perf_counter()
    for process in processes:
        process.join()
    seconds = time.perf_counter() - started
    per_worker = Counter(queue.get_task_info(task_id).worker_id for task_id in ids)
    stats = queue.get_stats()
    queue.close()
    return {"seconds": seconds, "startup": started - launched, "per_worker": per_worker,
            "stats": stats}


def run_threads(inputs: list[Path], workers: int) -> dict | None:
    """Session 3's thread pool on the in-memory queue, with the same tasks and pipeline."""
    try:
        from session1_basics.task_queue import TaskQueue
        from session2_pipeline.core import FilterFactory
        from session3_threads.workers import WorkerPool
    except ImportError as error:
        console.print(f"[yellow]session 3 is not available ({error}); skipping threads[/]")
        return None
    queue = TaskQueue()
    for task in image_tasks(inputs, f"{workers}_threads"):
        queue.add_task(task)
    pool = WorkerPool(workers, queue, FilterFactory.pipeline(list(DEFAULT_PIPELINE_SPECS)))
    started = time.perf_counter()
    pool.start()
    pool.wait_until_done()
    seconds = time.perf_counter() - started
    pool.stop()
    per_worker = Counter({c.worker_id: c.completed for c in pool.counts()})
    return {"seconds": seconds, "startup": 0.0, "per_worker": per_worker,
            "stats": queue.get_stats()}


def load_note() -> str:
    """The 1-minute load average, where the system has one: busy cores shrink any speedup."""
    if not hasattr(os, "getloadavg"):
        return ""
    load = os.getloadavg()[0]
    busy = " (other programs are using the cores: expect less speedup)" if load >= 1 else ""
    return f", load average {load:.1f}{busy}"


def distribution(per_worker: Counter) -> str:
    return ", ".join(f"{worker}: {count}" for worker, count in sorted(per_worker.items()))


def main() -> int:
    try:
        target = resolve_redis()  # a real server: REDIS_URL, local, or embedded
    except RedisUnavailableError as error:
        console.print(f"[red]{error}[/]", highlight=False)
        console.print("Worker processes need a Redis server they can all reach; in-process "
                      "fakeredis lives inside one process, so this demo cannot use it.")
        return 1
    if target.url is None:  # pragma: no cover - resolve_redis above never returns fakeredis
        print(f"Worker processes need a Redis server.\n{HOW_TO_GET_REDIS}")
        return 1

    inputs = make_sample_images(INPUTS, TASKS, include_photo=False, sizes=SIZES)
    console.print(f"{TASKS} image tasks ({' | '.join(DEFAULT_PIPELINE_SPECS)}), "
                  f"inputs {SIZES[0][0]}x{SIZES[0][1]} and {SIZES[1][0]}x{SIZES[1][1]}; "
                  f"this machine has {multiprocessing.cpu_count()} cores{load_note()}\n")
    runs: dict[str, dict] = {}
    for label, workers in (("1 worker process", 1), (f"{PROCESSES} worker processes", PROCESSES)):
        console.print(f"running: {label} on Redis ...")
        runs[label] = run_processes(target.url, inputs, workers)
    console.print(f"running: {PROCESSES} threads on session 3's in-memory queue ...")
    threads = run_threads(inputs, PROCESSES)
    if threads is not None:
        runs[f"{PROCESSES} threads (session 3)"] = threads

    baseline = runs["1 worker process"]["seconds"]
    table = Table(title="Same tasks, three ways", title_justify="left")
    for column in ("run", "tasks per worker", "start-up", "time", "speedup vs 1 process"):
        table.add_column(column, justify="left" if column in ("run", "tasks per worker") else "right")
    for label, run in runs.items():
        table.add_row(label, distribution(run["per_worker"]),
                      f"{run['startup']:.2f} s" if run["startup"] else "-",
                      f"{run['seconds']:.2f} s", f"{baseline / run['seconds']:.2f}x")
    console.print()
    console.print(table)

    processes = runs[f"{PROCESSES} worker processes"]
    assert processes["stats"]["completed"] == TASKS, processes["stats"]
    console.print(f"\nevery task done exactly once: {processes['stats']}")
    if threads is not None:
        ratio = threads["seconds"] / processes["seconds"]
        console.print(f"{PROCESSES} processes vs {PROCESSES} threads: {ratio:.2f}x "
                      f"({'processes faster' if ratio > 1 else 'threads as fast or faster'})")
    console.print(
        "\nWhy: these filters run in Pillow's C code, which releases the GIL, so threads "
        "already use every core;\nprocesses add start-up and Redis round trips but can run on "
        "other machines and survive each other.\nWith 2 cores, 3 workers cannot beat 2x: "
        "the extra worker only waits its turn.")
    if target.is_embedded:
        console.print("\n(the embedded Redis this demo started stops with it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
