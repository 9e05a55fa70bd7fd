"""Three worker processes drain one queue: every task done exactly once.

The tasks are ``{"type": "noop"}``: the worker completes them without doing
anything, so the test measures the queue's guarantees, not image processing.
It runs under ``fork`` and ``spawn`` (the macOS and Windows default), which
catches a worker entry point that only works when the child inherits memory.
"""

from __future__ import annotations

import pytest

from session4_redis.workers import RedisTaskQueue, run_worker_process

pytestmark = [pytest.mark.redis, pytest.mark.multiprocess]

TASKS = 200
WORKERS = 3


def test_three_processes_drain_200_tasks_each_exactly_once(mp_context, redis_url, redis_client,
                                                           queue_name):
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name)
    ids = queue.add_tasks([{"type": "noop", "n": n} for n in range(TASKS)])
    go = mp_context.Event()
    processes = [
        mp_context.Process(target=run_worker_process,
                           args=(f"worker-{i}", redis_url, queue_name, True, go))
        for i in range(1, WORKERS + 1)
    ]
    for process in processes:
        process.start()
    go.set()  # all start claiming at once
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * WORKERS

    completed = queue.list_ids("completed")
    assert len(completed) == TASKS, f"{len(completed)} ids in completed, expected {TASKS}"
    assert sorted(completed) == sorted(ids), "each task must be completed exactly once"
    assert queue.get_stats() == {"pending": 0, "processing": 0, "completed": TASKS,
                                 "failed": 0, "total": TASKS}
    infos = [queue.get_task_info(task_id) for task_id in ids]
    assert {info.attempts for info in infos} == {1}, "no task may be claimed twice"
    assert {info.worker_id for info in infos} <= {f"worker-{i}" for i in range(1, WORKERS + 1)}
