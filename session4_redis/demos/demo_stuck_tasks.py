"""Demo: a worker killed mid-task leaves its task in ``processing`` for ever.

    python session4_redis/demos/demo_stuck_tasks.py      (from the repository)
    python demos/demo_stuck_tasks.py                     (from session4_redis/)

The atomic claim (BLMOVE pending -> processing) guarantees that a task is never
given to two workers and never dropped on the floor while being handed over.
It does not say what happens to a task whose worker dies: nobody will ever
complete or fail it, and no other worker will ever take it. This demo shows
exactly that, and leaves the problem open: session 5 solves it with heartbeats
and a reaper.
"""

from __future__ import annotations

import multiprocessing
import sys
import time

from session4_redis.workers import RedisTaskQueue, RedisWorker, run_worker_process
from workshop.redis_connection import LOCAL_URL, RedisUnavailableError, redact, resolve_redis
from workshop.waiting import wait_until

QUEUE_NAME = "demo_stuck"


def main() -> int:
    try:
        target = resolve_redis()  # a server: the doomed worker is another process
    except RedisUnavailableError as error:
        print(error, file=sys.stderr)
        return 1
    assert target.url is not None
    queue = RedisTaskQueue(url=target.url, queue_name=QUEUE_NAME)
    queue.clear()
    slow = queue.add_task({"type": "sleep", "seconds": 60})  # the task the worker will die in
    others = queue.add_tasks([{"type": "noop"}, {"type": "noop"}])
    print(f"\nqueued 1 slow task ({slow[:8]}, 60 s) and 2 quick ones: {queue.get_stats()}")

    ctx = multiprocessing.get_context("spawn")
    doomed = ctx.Process(target=run_worker_process,
                         args=("doomed-worker", target.url, QUEUE_NAME, True, None, None, True))
    doomed.start()
    wait_until(lambda: queue.get_stats()["processing"] == 1, 20, "the worker to claim the task")
    print(f"doomed-worker (pid {doomed.pid}) claimed the slow task: {queue.get_stats()}")
    time.sleep(1.0)  # let it work on the task for a moment

    doomed.kill()  # SIGKILL: no handler runs, no "finally", no goodbye
    doomed.join()
    print(f"\nkilled it (exit code {doomed.exitcode}). Now:")
    print(f"  stats:      {queue.get_stats()}")
    print(f"  processing: {queue.list_ids('processing')}")
    info = queue.get_task_info(slow)
    print(f"  the task:   status={info.status.value}, worker_id={info.worker_id}, "
          f"attempts={info.attempts}, started {time.time() - info.started_at:.1f} s ago")

    print("\na healthy worker drains the queue ...")
    RedisWorker("healthy-worker", None, queue).start(burst=True)
    stats = queue.get_stats()
    print(f"\nafter it: {stats}")
    assert all(queue.get_task_info(i).status.value == "completed" for i in others)
    assert stats["processing"] == 1 and queue.list_ids("processing") == [slow]
    print(f"\nThe quick tasks are done; the slow one is STUCK in {queue.keys.processing}:")
    print("no worker will ever finish it, and no worker will ever take it again.")
    print("Who could notice? Nothing in Redis says that doomed-worker is dead.")

    cli = "redis-cli" if target.url == LOCAL_URL else f"redis-cli -u {redact(target.url)}"
    print("\nSee it for yourself:")
    print(f"  {cli} LRANGE {queue.keys.processing} 0 -1")
    print(f"  {cli} HGETALL {queue.keys.task(slow)}")
    print("\nOpen questions for session 5: how do we know a worker is dead (heartbeats)? "
          "Who puts its task back\n(a reaper)? How do we keep a task that kills every worker "
          "from looping for ever (attempts, a dead-letter queue)?")
    if target.is_embedded:
        print("\n(the embedded Redis this demo started stops with it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
