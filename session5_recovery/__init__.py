"""Session 5: what happens when a worker dies, a task fails, or a task is poison?

Session 4's workers share a queue in Redis, but a worker killed mid-task leaves
its task stuck in "processing" forever, a failing task fails once and for all,
and nobody notices a dead worker. This session adds what real task queues
(RQ, Dramatiq, BullMQ, Celery) do about it, small enough to read in one sitting:

- heartbeats from a thread of each worker, and a registry of workers;
- per-worker in-flight lists, so the claim records the owner atomically;
- a reaper (one Lua script) that hands a dead worker's tasks back, and sends a
  task that keeps killing workers to the dead-letter queue;
- fenced completion: a worker taken for dead cannot overwrite anything;
- retries with exponential backoff and full jitter; a DLQ with replay;
- graceful shutdown on SIGINT/SIGTERM; an event stream and a live monitor.

Start with ``python session5_recovery/demos/demo_heartbeats.py``; the flagship is
``python -m workshop demo``. The queue is in ``workers/``, the tools that drive
and watch it (command line, monitor, timeline, ``WorkerFleet``) in ``tools/``;
the filters and the pipeline are session 2's (``session2_pipeline``), imported.
"""

from .workers import (
    RecoverySettings,
    RedisTaskQueue,
    RedisWorker,
    Task,
    TaskStatus,
    run_worker_process,
)

__all__ = [
    "RecoverySettings",
    "RedisTaskQueue",
    "RedisWorker",
    "Task",
    "TaskStatus",
    "run_worker_process",
]
