"""Why a queue: the caller waits for slow work, or gets an id at once and asks later.

Run it from the repository root:    python session1_basics/demos/demo_without_queue.py
or from inside session1_basics:     python demos/demo_without_queue.py

Three requests each need 0.5 s of slow work (a sleep stands in for resizing an
image). Part 1 calls the work directly: the caller is stuck until all of it is
done. Part 2 hands the same requests to a TaskQueue: the caller gets three ids
within a millisecond, a worker thread does the work in the background, and the
caller polls ``get_task_info`` to follow each task's status.
"""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.markup import escape

from session1_basics import TaskQueue, TaskStatus

REQUESTS = ["photo_1.jpg", "photo_2.jpg", "photo_3.jpg"]
WORK_SECONDS = 0.5
POLL_EVERY = 0.25

console = Console(highlight=False, soft_wrap=True)

STYLES = {
    TaskStatus.PENDING: "yellow",
    TaskStatus.PROCESSING: "cyan",
    TaskStatus.COMPLETED: "green",
    TaskStatus.FAILED: "red",
}


def resize_image(image_path: str) -> dict[str, str]:
    """The slow work: a web request that calls this keeps its user waiting."""
    time.sleep(WORK_SECONDS)
    return {"output_path": image_path.replace(".jpg", "_small.jpg")}


def without_a_queue() -> float:
    console.rule("Part 1: without a queue, the caller does the work itself")
    start = time.monotonic()
    for image in REQUESTS:
        result = resize_image(image)
        console.print(f"  {time.monotonic() - start:5.2f}s  caller got {result['output_path']}")
    blocked = time.monotonic() - start
    console.print(f"\nNotice: the caller was blocked for {blocked:.2f} s and could do nothing "
                  f"else; a fourth request would have waited behind the first three.\n")
    return blocked


def worker(queue: TaskQueue, stop: threading.Event) -> None:
    while not stop.is_set():
        task = queue.get_task("worker-1", timeout=0.1)
        if task is not None:
            queue.mark_completed(task.id, resize_image(task.data["image_path"]))


def with_a_queue() -> float:
    console.rule("Part 2: with a queue, the caller hands the work over")
    queue = TaskQueue()
    stop = threading.Event()
    background = threading.Thread(target=worker, args=(queue, stop), name="worker-1")
    background.start()

    start = time.monotonic()
    ids = {}
    for image in REQUESTS:
        before = time.perf_counter()
        ids[image] = queue.add_task({"image_path": image})
        took_ms = (time.perf_counter() - before) * 1000
        console.print(f"  {time.monotonic() - start:5.3f}s  add_task({image!r}) -> id "
                      f"{ids[image][:8]}... in {took_ms:.3f} ms")
    handed_over = time.monotonic() - start
    console.print(f"  The caller is free after {handed_over * 1000:.1f} ms. "
                  f"It polls get_task_info every {POLL_EVERY} s:")

    while True:
        statuses = {image: queue.get_task_info(task_id).status for image, task_id in ids.items()}
        line = "  ".join(f"{image}=[{STYLES[status]}]{status.value:<10}[/{STYLES[status]}]"
                         for image, status in statuses.items())
        console.print(f"  {time.monotonic() - start:5.2f}s  {line}")
        if all(status is TaskStatus.COMPLETED for status in statuses.values()):
            break
        time.sleep(POLL_EVERY)

    stop.set()
    background.join()
    outputs = ", ".join(escape(queue.get_task_info(i).result["output_path"]) for i in ids.values())
    console.print(f"  results: {outputs}")
    console.print(f"\nNotice: the caller had all three ids after {handed_over * 1000:.1f} ms; "
                  "the work still took its time, but in the background, one task after another.")
    console.print("Notice: each task went pending -> processing -> completed, and anyone "
                  "holding the id could follow it.")
    return handed_over


def main() -> None:
    blocked = without_a_queue()
    handed_over = with_a_queue()
    console.print(f"\nThe caller waited {blocked:.2f} s without a queue and "
                  f"{handed_over * 1000:.1f} ms with one.")


if __name__ == "__main__":
    main()
