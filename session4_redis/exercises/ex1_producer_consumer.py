"""Exercise 1: a producer and a consumer that share a queue only through Redis.

The producer queues one image task per image and goes away; any number of
consumers, started later, in other terminals or on other machines, take the
tasks and record the outcomes; the producer can come back and collect them.
Nothing but Redis connects them.

- Part 1, ``produce``: queue one task per image, all in one round trip.
- Part 2, ``consume``: claim tasks until the queue is empty; run each with
  ``handle``; record success or failure; never stop because one task failed.
- Part 3, ``wait_for_results``: wait until every task of a batch has finished
  (completed *or* failed) and return them.

Check your work:   pytest session4_redis/exercises/test_ex1_producer_consumer.py
              or   python -m workshop check 4

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
    # TODO Part 1: every image becomes one task, and the whole batch reaches Redis in a
    #              single round trip, however many images there are.
    raise NotImplementedError(
        "Exercise 1, part 1: build one task dict per image and queue them all with "
        "queue.add_tasks (hint: make hint SESSION=4 EXERCISE=1)")


def consume(queue: RedisTaskQueue, worker_id: str,
            handle: Callable[[dict[str, Any]], dict[str, Any] | None], *,
            max_tasks: int | None = None) -> dict[str, int]:
    """Process tasks until the queue is empty (or ``max_tasks`` were processed).

    For each task: ``result = handle(task.data)``, then ``mark_completed`` with
    the result; if ``handle`` raises, ``mark_failed`` with
    ``"<ExceptionType>: <message>"`` and go on. Returns
    ``{"completed": n, "failed": m}``.
    """
    # TODO Part 2: every claimed task ends completed or failed, recorded in Redis. Rules:
    #              one task's error never stops the consumer; an empty queue does (no wait).
    raise NotImplementedError(
        "Exercise 1, part 2: claim tasks until the queue is empty, run each with handle "
        "and record completed or failed (hint: make hint SESSION=4 EXERCISE=1)")


def wait_for_results(queue: RedisTaskQueue, task_ids: Sequence[str], timeout: float, *,
                     poll_interval: float = 0.1,
                     sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic) -> dict[str, Task]:
    """Wait until every task in ``task_ids`` is completed or failed; return ``{id: Task}``.

    Check with ``get_task_info``; between checks call ``sleep(poll_interval)``.
    If ``timeout`` seconds (measured with ``clock``) pass first, raise
    ``TimeoutError`` saying how many tasks are unfinished.
    """
    # TODO Part 3: a failed task is finished too. Rule: the whole wait lasts at most
    #              `timeout` seconds by `clock`, and never spins without sleeping.
    raise NotImplementedError(
        "Exercise 1, part 3: poll get_task_info until every task is completed or failed, "
        "with a deadline (hint: make hint SESSION=4 EXERCISE=1)")


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
