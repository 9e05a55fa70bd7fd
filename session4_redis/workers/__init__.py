"""Workers that share one task queue in Redis, from any process or machine.

- ``RedisTaskQueue``: the queue (add, atomic blocking claim, complete, fail, stats);
- ``QueueKeys``: the names of its Redis keys, all under the queue name;
- ``RedisWorker``: claims tasks, runs the image pipeline, records outcomes;
- ``run_worker_process``: the entry point for a worker in a child process;
- ``python -m session4_redis.workers``: the command line (worker, enqueue, stats, monitor).
"""

from .keys import STATES, QueueKeys
from .process_entry import run_worker_process
from .redis_task_queue import DEFAULT_QUEUE_NAME, RedisTaskQueue, TaskNotFoundError
from .redis_worker import InvalidTaskError, RedisWorker, WorkerCounts

__all__ = [
    "DEFAULT_QUEUE_NAME",
    "STATES",
    "InvalidTaskError",
    "QueueKeys",
    "RedisTaskQueue",
    "RedisWorker",
    "TaskNotFoundError",
    "WorkerCounts",
    "run_worker_process",
]
