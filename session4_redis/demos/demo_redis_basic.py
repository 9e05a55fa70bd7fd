"""Demo: tasks in Redis, one worker, results that outlive the process.

    python session4_redis/demos/demo_redis_basic.py      (from the repository)
    python demos/demo_redis_basic.py                     (from session4_redis/)

It queues six image tasks (one of them broken on purpose), runs one worker
until the queue is empty, shows what Redis now holds, and prints the
``redis-cli`` commands to look at it yourself, with the real key names.
"""

from __future__ import annotations

import sys
import time

from session2_pipeline.core import default_pipeline
from session4_redis.workers import RedisTaskQueue, RedisWorker
from workshop.images import make_sample_images
from workshop.paths import OUTPUT_DIR
from workshop.redis_connection import LOCAL_URL, RedisUnavailableError, redact, resolve_redis

QUEUE_NAME = "demo_basic"  # not the default name: the demo clears its own queue first
SAMPLES = OUTPUT_DIR / "session4" / "samples"
RESULTS = OUTPUT_DIR / "session4" / "basic"


def redis_cli(url: str | None) -> str:
    """How to start redis-cli against this server."""
    if url in (None, LOCAL_URL, "redis://localhost:6379", "redis://127.0.0.1:6379/0"):
        return "redis-cli"
    return f"redis-cli -u {redact(url)}"


def main() -> int:
    try:
        # One process only, so in-process fakeredis is acceptable as a last resort.
        target = resolve_redis(allow_fakeredis=True)
    except RedisUnavailableError as error:
        print(error, file=sys.stderr)
        return 1
    queue = RedisTaskQueue(client=target.client(decode_responses=True), queue_name=QUEUE_NAME)
    queue.clear()  # only the keys under "demo_basic:"

    images = make_sample_images(SAMPLES, count=5)
    tasks = [{"image_path": str(path), "output_path": str(RESULTS / f"{path.stem}.png")}
             for path in images]
    tasks[1]["filters"] = ["brightness:factor=1.5", "grayscale"]  # a task with its own filters
    tasks.append({"image_path": str(SAMPLES / "no_such_photo.jpg"),  # broken on purpose
                  "output_path": str(RESULTS / "never.png")})
    started = time.perf_counter()
    ids = queue.add_tasks(tasks)  # one round trip for all six
    print(f"\nqueued {len(ids)} tasks in {1000 * (time.perf_counter() - started):.1f} ms: "
          f"{queue.get_stats()}")

    print("\none worker, burst mode (stops when the queue is empty):")
    worker = RedisWorker("worker-1", default_pipeline(), queue)
    worker.start(burst=True)

    stats = queue.get_stats()
    print(f"\nstats: {stats}")
    done = queue.get_task_info(ids[1])
    print(f"\ntask {done.id} ({done.status.value}, {done.attempts} attempt, "
          f"by {done.worker_id}, {done.finished_at - done.started_at:.3f} s):")
    print(f"  data:   {done.data}")
    print(f"  result: {done.result}")
    failed = queue.get_task_info(ids[-1])
    print(f"task {failed.id} ({failed.status.value}): {failed.error[:100]}...")

    cli = redis_cli(target.url)
    keys = queue.keys
    print("\nEverything above is stored in Redis. Look at it with redis-cli:")
    for command, comment in (
        (f"--scan --pattern '{QUEUE_NAME}:*'", "every key of this queue"),
        (f"LRANGE {keys.completed} 0 -1", "completed ids, newest first"),
        (f"LRANGE {keys.failed} 0 -1", "failed ids"),
        (f"HGETALL {keys.task(done.id)}", "one task: data, status, worker, times"),
        (f"HGETALL {keys.result(done.id)}", "its result, each value as JSON"),
        (f"HGET {keys.task(failed.id)} error", "why the broken task failed"),
        (f"LLEN {keys.pending}", "0: nothing left to do"),
        (f"TYPE {keys.processing}", "none: Redis deletes a list when it empties"),
    ):
        print(f"  {cli} {command:<70} # {comment}")
    if target.url is None or target.is_embedded:
        print("\nNote: this Redis lives only as long as this demo, so the keys are gone now.\n"
              "Start a Redis server (see the README, 'Setup') and run the demo again to "
              "inspect them.")
    else:
        print(f"\nThe keys stay until the next run of this demo (it clears '{QUEUE_NAME}:*' "
              f"first). Outputs: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
