"""Session 4: several worker processes (or machines) share one task queue in Redis.

Session 1's queue lived in one process's memory; here the same methods
(``add_task``, ``get_task``, ``mark_completed``, ``mark_failed``, ``get_stats``)
work on Redis, so any process that can reach the server can produce or consume.
A claim is one atomic ``BLMOVE`` from the pending list to the processing list:
each task goes to exactly one worker, and an idle worker waits inside Redis
instead of polling.

``Task`` is session 1's (``session1_basics.task``) and the pipeline session 2's
(``session2_pipeline``), imported from where they were introduced.
"""

from session1_basics.task import Task, TaskStatus

from .workers import QueueKeys, RedisTaskQueue, RedisWorker, run_worker_process

__all__ = ["QueueKeys", "RedisTaskQueue", "RedisWorker", "Task", "TaskStatus",
           "run_worker_process"]
