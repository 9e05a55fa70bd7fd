"""Demo: a pool of worker threads draining one TaskQueue of image tasks.

Run from the repository root or from inside session3_threads:

    python session3_threads/demos/demo_thread_pool.py
    python demos/demo_thread_pool.py --workers 2

The same image tasks run twice: with 1 worker thread, then with a pool of several.
The pool run also gets one task whose input is not an image: it is marked failed with
its error, and the workers carry on. At the end: how the tasks spread over the workers,
and the time against 1 thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from rich.table import Table

from session1_basics.task_queue import TaskQueue
from session2_pipeline.core import default_pipeline
from session3_threads.workers import WorkerPool
from workshop.console import make_console
from workshop.images import make_sample_images
from workshop.paths import OUTPUT_DIR

DEMO_DIR = OUTPUT_DIR / "session3"


def enqueue_images(queue: TaskQueue, images: list[Path], output_dir: Path) -> list[str]:
    """One task per image, each writing its own PNG into ``output_dir``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    return [queue.add_task({"image_path": str(image),
                            "output_path": str(output_dir / f"{index:02d}_{image.stem}.png")})
            for index, image in enumerate(images)]


def run_pool(workers: int, images: list[Path], output_dir: Path,
             extra_tasks: tuple[dict, ...] = ()) -> tuple[float, TaskQueue, WorkerPool]:
    """Queue every image (and ``extra_tasks``), run a pool until the queue is drained, stop it."""
    queue = TaskQueue()
    enqueue_images(queue, images, output_dir)
    for data in extra_tasks:
        queue.add_task(data)
    pool = WorkerPool(workers, queue, default_pipeline())
    started = time.perf_counter()
    pool.start()
    pool.wait_until_done()
    elapsed = time.perf_counter() - started
    pool.stop()  # graceful: nothing is in flight any more, so this returns at once
    return elapsed, queue, pool


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4, help="threads in the pool (default 4)")
    parser.add_argument("--images", type=int, default=24, help="image tasks (default 24)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each pool size; the median time is shown (default 3)")
    args = parser.parse_args(argv)
    console = make_console()

    images = make_sample_images(DEMO_DIR / "inputs", count=min(args.images, 12))
    images = (images * (args.images // len(images) + 1))[:args.images]  # repeat to reach --images
    broken = DEMO_DIR / "inputs" / "not_an_image.jpg"
    broken.write_text("this is text, not a JPEG\n")
    out = DEMO_DIR / f"pool_{args.workers}_workers"
    extra = (
        # A file that is not an image: this task fails, and its worker carries on.
        {"image_path": str(broken), "output_path": str(out / "never_written.png")},
        # A task that brings its own filters instead of the worker's pipeline.
        {"image_path": str(images[0]), "filters": ["brightness:factor=1.5"],
         "output_path": str(out / "brighter.png")},
    )
    console.print(f"[bold]{len(images)} image tasks[/bold] (blur | edges | grayscale) + 1 broken "
                  f"file + 1 task with its own filters; {os.cpu_count()} CPU cores; median of "
                  f"{args.repeats} run(s)\n")

    one = [run_pool(1, images, DEMO_DIR / "pool_1_worker", extra)[0] for _ in range(args.repeats)]
    one_time = statistics.median(one)
    console.print(f"1 worker thread : {one_time:.2f} s")
    runs = [run_pool(args.workers, images, out, extra) for _ in range(args.repeats)]
    pool_time = statistics.median(elapsed for elapsed, _, _ in runs)
    _, queue, pool = runs[-1]
    console.print(f"{args.workers} worker threads: {pool_time:.2f} s")
    console.print(f"speedup: {one_time / pool_time:.2f}x (Pillow releases the GIL while it "
                  f"filters and encodes, so threads overlap; Python glue does not)\n")

    table = Table(title=f"Who did what ({args.workers} threads, one queue)")
    table.add_column("worker")
    table.add_column("completed", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("busy s", justify="right")
    table.add_column("share", justify="right")
    total = sum(counts.processed for counts in pool.counts())
    for counts in pool.counts():
        table.add_row(counts.worker_id, str(counts.completed), str(counts.failed),
                      f"{counts.busy_seconds:.2f}", f"{counts.processed / total:.0%}")
    console.print(table)
    console.print("No worker is assigned tasks: each claims the next one when it is free, so "
                  "faster workers simply take more.\n")

    console.print(f"queue stats: {queue.get_stats()}")
    for task_id in [t for counts in pool.counts() for t in counts.task_ids]:
        info = queue.get_task_info(task_id)
        if info.error:
            console.print(f"[red]failed[/red] {Path(info.data['image_path']).name} on "
                          f"{info.worker_id}: {info.error}")
    console.print(f"outputs in {DEMO_DIR}")


if __name__ == "__main__":
    main()
