"""Run an ``OperationsWorker`` in a child process (the function ``multiprocessing`` starts),
and ``OperationsFleet``, session 5's ``WorkerFleet`` starting it.

Session 5's ``run_worker_process`` builds a plain ``RedisWorker``; this is the same
entry with the worker class of this session, so the autoscaler's workers honour the
rate limits and send the webhooks.
"""

from __future__ import annotations

import sys
from typing import Any

from session5_recovery.tools.fleet import WorkerFleet
from session5_recovery.workers import RecoverySettings, default_handlers
from session5_recovery.workers.process_entry import load_handlers
from session8_workflows.handlers import workflow_handlers

from .operations_queue import OperationsQueue, WorkflowOperationsQueue
from .worker import OperationsWorker


def run_operations_worker(worker_id: str, redis_url: str, queue_name: str, burst: bool = False,
                          *, settings: dict[str, Any] | None = None, handlers: str | None = None,
                          ready: Any = None, verbose: bool = False,
                          allowed_dirs: list[str] | None = None,
                          workflows: bool = False) -> dict[str, Any]:
    """Connect, work on ``queue_name`` until stopped (SIGTERM: finish the task, then go).

    Called as session 5's ``run_worker_process`` is (the same positional arguments and
    the keywords ``WorkerFleet`` passes), so ``OperationsFleet`` can start it instead.
    ``workflows``: also run session 8's workflow nodes (its queue and its handler
    wrapper, which records a node's result and reports progress), rate limits kept.
    """
    queue_class = WorkflowOperationsQueue if workflows else OperationsQueue
    queue = queue_class.connect(redis_url, queue_name=queue_name,
                                settings=RecoverySettings.from_dict(settings or {}))
    try:
        log = (lambda line: print(line, flush=True)) if verbose else None
        registry = load_handlers(handlers) if handlers else default_handlers()
        if workflows:
            registry = workflow_handlers(queue, registry)
        worker = OperationsWorker(worker_id, queue, handlers=registry, log=log,
                                  kill_children=True, allowed_dirs=allowed_dirs)
        counts = worker.start(burst=burst, on_registered=ready.set if ready else None)
        return {"worker_id": worker_id, "deferred": worker.deferred, **counts.as_dict()}
    finally:
        queue.close()
        sys.stdout.flush()


class OperationsFleet(WorkerFleet):
    """Session 5's ``WorkerFleet``, whose processes run ``OperationsWorker`` (rate limits,
    webhooks) instead of a plain ``RedisWorker``: start, readiness, kill, replace and
    stop are all ``WorkerFleet``'s."""

    worker_entry = staticmethod(run_operations_worker)
