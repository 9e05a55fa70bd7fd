"""A producer and two consumers share one TaskQueue, in one process.

Run it from the repository root:    python session1_basics/demos/demo_producer_consumer.py
or from inside session1_basics:     python demos/demo_producer_consumer.py

The producer thread accepts eight image tasks quickly, one every 0.1 s. Two
worker threads claim them with ``get_task`` (waiting when the queue is empty),
"process" each for 0.4 s (a sleep stands in for the real image work of the next
session), and mark it completed, or failed for the one broken image. The main
thread waits with ``queue.join()``, tells the workers to stop, and prints the stats.
"""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from session1_basics import Task, TaskQueue

IMAGES = ["beach.jpg", "cat.jpg", "city.jpg", "broken.jpg", "dog.jpg", "forest.jpg",
          "harbour.jpg", "snow.jpg"]
ADD_EVERY = 0.1  # seconds between two tasks from the producer
WORK_SECONDS = 0.4  # how long one task takes a worker
WORKERS = 2

console = Console(highlight=False, soft_wrap=True)
_print_lock = threading.Lock()  # one line at a time, whichever thread prints
_start = time.monotonic()

STYLES = {"producer": "cyan", "main": "bold", "worker-1": "green", "worker-2": "magenta"}


def say(who: str, message: str) -> None:
    """Print one step: seconds since the start, who did it, what happened."""
    with _print_lock:
        style = STYLES.get(who, "")
        console.print(f"{time.monotonic() - _start:5.2f}s  [{style}]{who:<9}[/{style}] "
                      f"{escape(message)}")


def short(task_id: str) -> str:
    return task_id[:8]


def produce(queue: TaskQueue, produced: threading.Event) -> None:
    for name in IMAGES:
        task_id = queue.add_task({"image_path": f"photos/{name}", "filter": "blur"})
        say("producer", f"added   {short(task_id)}  {name:<12} (pending now: {len(queue)})")
        time.sleep(ADD_EVERY)
    say("producer", "done: all tasks accepted")
    produced.set()


def process(task: Task) -> dict[str, str]:
    """Stand-in for real image work: it takes a while, and a broken image raises."""
    time.sleep(WORK_SECONDS)
    if "broken" in task.data["image_path"]:
        raise OSError(f"cannot identify image file {task.data['image_path']!r}")
    return {"output_path": task.data["image_path"].replace("photos/", "output/")}


def work(queue: TaskQueue, worker_id: str, stop: threading.Event, done: list[str]) -> None:
    while not stop.is_set():
        # A short timeout, so the worker notices `stop` even when no task ever comes.
        task = queue.get_task(worker_id, timeout=0.2)
        if task is None:
            continue
        name = task.data["image_path"].split("/")[-1]
        say(worker_id, f"claimed {short(task.id)}  {name:<12} (attempt {task.attempts})")
        try:
            result = process(task)
        except OSError as error:
            queue.mark_failed(task.id, f"{type(error).__name__}: {error}")
            say(worker_id, f"FAILED  {short(task.id)}  {name:<12} {error}")
        else:
            queue.mark_completed(task.id, result)
            say(worker_id, f"done    {short(task.id)}  {name:<12} -> {result['output_path']}")
        done.append(worker_id)


def stats_table(queue: TaskQueue) -> Table:
    table = Table(title="queue.get_stats()")
    stats = queue.get_stats()
    for name in stats:
        table.add_column(name, justify="right")
    table.add_row(*(str(count) for count in stats.values()))
    return table


def main() -> None:
    global _start
    _start = time.monotonic()
    console.rule("Producer and consumers sharing one TaskQueue")
    console.print(f"{len(IMAGES)} tasks, one every {ADD_EVERY} s; {WORKERS} workers, "
                  f"{WORK_SECONDS} s of work per task\n")
    queue = TaskQueue()
    produced, stop = threading.Event(), threading.Event()
    done: list[str] = []  # the worker id, once per finished task (list.append is thread-safe)
    threads = [threading.Thread(target=produce, args=(queue, produced), name="producer")]
    threads += [threading.Thread(target=work, args=(queue, f"worker-{n}", stop, done),
                                 name=f"worker-{n}") for n in range(1, WORKERS + 1)]
    for thread in threads:
        thread.start()

    produced.wait()
    accepted_at = time.monotonic() - _start
    queue.join()  # returns when nothing is pending or processing
    finished_at = time.monotonic() - _start
    say("main", "queue.join() returned: nothing pending, nothing processing")
    stop.set()
    for thread in threads:
        thread.join()

    console.print()
    console.print(stats_table(queue))
    per_worker = ", ".join(f"{w} did {done.count(w)}" for w in sorted(set(done)))
    console.print(f"\nNotice: all {len(IMAGES)} tasks were accepted after {accepted_at:.1f} s; "
                  f"the work took until {finished_at:.1f} s. Accepting work is quick, doing it is slow.")
    console.print(f"Notice: every task was claimed by exactly one worker ({per_worker}); "
                  "the pending count rose while the producer was faster than the workers.")
    console.print("Notice: the broken image failed, the worker recorded why and carried on "
                  "with the next task.")


if __name__ == "__main__":
    main()
