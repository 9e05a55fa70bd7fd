"""Mistake: no try/except around handle(), so the first failing task ends consume().

Rejected by:
    test_ex1_producer_consumer.py::TestPart2_Consume::test_a_failing_task_is_marked_failed_and_the_consumer_goes_on

A plausible wrong solution of exercise 1 (the tests must catch it).

Exercise 1: a producer and a consumer that share a queue only through Redis.

The producer queues one image task per image and goes away; any number of
consumers, started later, in other terminals or on other machines, take the
tasks and record the outcomes; the producer can come back and collect them.
Nothing but Redis connects them.

- Part 1, ``produce``: queue one task per image, all in one round trip.
- Part 2, ``consume``: claim tasks until the queue is empty; run each with
  ``handle``; record success or failure; never stop because one task failed.
- Part 3, ``wait_for_results``: wait until every task of a batch has finished
  (completed *or* failed) and return them.

Run it as two scripts (after finishing the parts)::

    python session4_redis/exercises/ex1_producer_consumer.py produce --count 5
    python session4_redis/exercises/ex1_producer_consumer.py consume
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from session1_basics.task import Task, TaskStatus
from session4_redis.workers import RedisTaskQueue

FINISHED = (TaskStatus.COMPLETED, TaskStatus.FAILED)


def produce(queue: RedisTaskQueue, image_paths: Sequence[str | Path], output_dir: str | Path,
            filters: list[str] | None = None) -> list[str]:
    """Queue one image task per path (one ``add_tasks`` call) and return the ids in order.

    Each task is ``{"image_path": str(path), "output_path": str(output_dir /
    f"{path.stem}_processed.png")}``, plus ``"filters": filters`` when filters
    are given.
    """
    tasks = []
    for path in map(Path, image_paths):
        task: dict[str, Any] = {
            "image_path": str(path),
            "output_path": str(Path(output_dir) / f"{path.stem}_processed.png"),
        }
        if filters is not None:
            task["filters"] = list(filters)
        tasks.append(task)
    return queue.add_tasks(tasks)


def consume(queue: RedisTaskQueue, worker_id: str,
            handle: Callable[[dict[str, Any]], dict[str, Any] | None], *,
            max_tasks: int | None = None) -> dict[str, int]:
    """Process tasks until the queue is empty (or ``max_tasks`` were processed).

    For each task: ``result = handle(task.data)``, then ``mark_completed`` with
    the result; if ``handle`` raises, ``mark_failed`` with
    ``"<ExceptionType>: <message>"`` and go on. Returns
    ``{"completed": n, "failed": m}``.
    """
    counts = {"completed": 0, "failed": 0}
    while max_tasks is None or counts["completed"] + counts["failed"] < max_tasks:
        task = queue.get_task(worker_id, timeout=0)
        if task is None:
            break
        result = handle(task.data)
        queue.mark_completed(task.id, result)
        counts["completed"] += 1
    return counts


def wait_for_results(queue: RedisTaskQueue, task_ids: Sequence[str], timeout: float, *,
                     poll_interval: float = 0.1,
                     sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic) -> dict[str, Task]:
    """Wait until every task in ``task_ids`` is completed or failed; return ``{id: Task}``.

    Check with ``get_task_info``; between checks call ``sleep(poll_interval)``.
    If ``timeout`` seconds (measured with ``clock``) pass first, raise
    ``TimeoutError`` saying how many tasks are unfinished.
    """
    deadline = clock() + timeout
    while True:
        tasks = {task_id: queue.get_task_info(task_id) for task_id in task_ids}
        unfinished = [i for i, task in tasks.items() if task is None or task.status not in FINISHED]
        if not unfinished:
            return tasks
        if clock() >= deadline:
            raise TimeoutError(f"{len(unfinished)} of {len(task_ids)} tasks unfinished after "
                               f"{timeout} s; is a consumer running?")
        sleep(poll_interval)


# --- given: the two scripts ------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    from session2_pipeline.core import default_pipeline
    from workshop.images import make_sample_images
    from workshop.paths import OUTPUT_DIR
    from workshop.redis_connection import RedisUnavailableError, resolve_redis

    parser = argparse.ArgumentParser(description="Exercise 1: producer and consumer scripts")
    parser.add_argument("role", choices=["produce", "consume"])
    parser.add_argument("--count", type=int, default=5, help="sample images to queue")
    parser.add_argument("--queue", default="ex1_images")
    args = parser.parse_args(argv)
    try:
        target = resolve_redis(allow_embedded=False)
    except RedisUnavailableError as error:
        print(error)
        return 1
    queue = RedisTaskQueue(url=target.url, queue_name=args.queue)
    if args.role == "produce":
        images = make_sample_images(OUTPUT_DIR / "session4" / "samples", args.count)
        ids = produce(queue, images, OUTPUT_DIR / "session4" / "ex1")
        print(f"queued {len(ids)} tasks on {args.queue!r}: {queue.get_stats()}")
    else:
        pipeline = default_pipeline()

        def handle(data: dict[str, Any]) -> dict[str, Any]:
            return pipeline.process_file(data["image_path"], data["output_path"])

        print(consume(queue, "ex1-consumer", handle), queue.get_stats())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
