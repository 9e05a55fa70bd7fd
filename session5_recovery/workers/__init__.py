"""Workers that survive crashes: heartbeats, a reaper, retries and a dead-letter queue.

- ``RedisTaskQueue`` (redis_task_queue.py, queue.lua): session 4's queue with per-worker
  processing lists, fenced completion, retries with backoff, the DLQ, the reaper
  and an event stream; every state change is one atomic Lua command;
- ``RecoverySettings`` (settings.py): every interval, TTL, retry parameter and the clock;
- ``RedisWorker`` (redis_worker.py): claims, runs handlers by task type, classifies
  errors, shuts down gracefully on SIGINT/SIGTERM;
- ``Heartbeat`` (heartbeat.py): the thread that keeps a worker alive and reaps the dead;
- handlers.py: the task types (image, noop, sleep, fail, crash) and permanent errors;
- ``run_worker_process`` (process_entry.py): the entry point for a worker in a child
  process;
- guards against faults of the server and of identity: server_checks.py (an evicting
  maxmemory-policy), epoch.py (a server that lost the queue's data), instance.py (one
  live process per worker id), grace.py (no reaping right after a restart or a late
  round) and time_limits.py (per-task time limits, handlers' child processes);
- keys.py (every Redis key of a queue), task.py (a task, its states and moves) and
  cluster.py (a URL that names a single server or a Redis Cluster node: the client
  that fits).

Finding a Redis to talk to is session 4's ``session4_redis.workers.redis_connection``,
imported as it is.

The tools that drive the queue (the command line, the monitor, the timeline and
``WorkerFleet``) are in ``../tools/``; they import from here, never the other way.
``python -m session5_recovery.workers`` still runs the command line: ``__main__.py``
is an entry script that nothing imports.
"""

from .handlers import (
    HandlerRegistry,
    InvalidTaskError,
    PermanentTaskError,
    TaskContext,
    TransientTaskError,
    UnknownTaskTypeError,
    default_handlers,
    is_permanent,
)
from .heartbeat import Heartbeat
from .instance import WorkerIdInUseError
from .keys import QueueKeys
from .process_entry import run_worker_process
from .redis_task_queue import (
    DEFAULT_QUEUE_NAME,
    Conservation,
    DuplicateTaskError,
    Event,
    QueuedIds,
    Recovery,
    RedisTaskQueue,
    ResultTooLargeError,
    WorkerInfo,
)
from .redis_worker import Outcome, RedisWorker, StopNow, WorkerCounts
from .server_checks import EvictingServerError
from .settings import RecoverySettings, backoff_delay
from .task import ALLOWED_TRANSITIONS, COMMAND_MOVES, Task, TaskStatus
from .time_limits import TaskTimeLimitExceeded

__all__ = [
    "EvictingServerError",
    "TaskTimeLimitExceeded",
    "WorkerIdInUseError",
    "ALLOWED_TRANSITIONS",
    "COMMAND_MOVES",
    "DEFAULT_QUEUE_NAME",
    "DuplicateTaskError",
    "ResultTooLargeError",
    "InvalidTaskError",
    "Conservation",
    "Event",
    "HandlerRegistry",
    "Heartbeat",
    "PermanentTaskError",
    "QueueKeys",
    "QueuedIds",
    "RecoverySettings",
    "Recovery",
    "RedisTaskQueue",
    "Outcome",
    "RedisWorker",
    "StopNow",
    "Task",
    "TaskContext",
    "TaskStatus",
    "TransientTaskError",
    "UnknownTaskTypeError",
    "WorkerCounts",
    "WorkerInfo",
    "backoff_delay",
    "default_handlers",
    "is_permanent",
    "run_worker_process",
]
