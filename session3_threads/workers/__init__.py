"""Threaded workers that share one in-memory ``TaskQueue``.

- ``Worker``: one thread that claims image tasks, runs the filters and marks each task
  completed or failed (a failing task never stops the worker);
- ``WorkerPool``: ``n`` workers started together and stopped gracefully (stop claiming,
  finish in-flight work, join);
- ``WorkerCounts``: per-worker counts and busy time.
"""

from .pool import WorkerPool
from .worker import InvalidTaskError, Worker, WorkerCounts, describe_error, image_task_fields

__all__ = [
    "InvalidTaskError",
    "Worker",
    "WorkerPool",
    "WorkerCounts",
    "describe_error",
    "image_task_fields",
]
