"""Workers for workflows: session 5's ``RedisWorker`` with session 8's queue and handlers.

Nothing of the worker changes: it gets a ``WorkflowQueue`` (whose periodic chores
also promote staged workflow nodes and sweep running workflows) and a registry whose
handlers report progress and record workflow results (handlers.py).
``run_workflow_worker`` is the function a child process runs (importable, for
``spawn``); ``WorkflowFleet`` is session 5's ``WorkerFleet`` starting it instead.
"""

from __future__ import annotations

import sys
from typing import Any

from session5_recovery.tools import WorkerFleet
from session5_recovery.workers import HandlerRegistry, RecoverySettings, RedisWorker

from .handlers import workflow_handlers
from .workflow_queue import WorkflowQueue


def make_worker(worker_id: str, queue: WorkflowQueue, *, types: HandlerRegistry | None = None,
                **kwargs: Any) -> RedisWorker:
    """A session 5 worker that runs workflow nodes and reports progress.

    ``types``: the handlers to run (default: session 5's and session 8's demo types).
    """
    return RedisWorker(worker_id, queue, handlers=workflow_handlers(queue, types), **kwargs)


def run_workflow_worker(worker_id: str, redis_url: str, queue_name: str, burst: bool = False, *,
                        settings: dict[str, Any] | None = None,
                        allowed_dirs: list[str] | None = None, ready: Any = None,
                        verbose: bool = False, handlers: str | None = None) -> dict[str, Any]:
    """Connect to ``redis_url`` and work on ``queue_name``; the worker's counts at the end.

    ``handlers`` is there because session 5's fleet passes it to every worker it
    starts; a workflow worker runs session 8's own handlers, so it must be None.
    """
    if handlers is not None:
        raise ValueError(f"a workflow worker runs session 8's handlers, not {handlers!r}")
    queue = WorkflowQueue.connect(redis_url, queue_name=queue_name,
                                  settings=RecoverySettings.from_dict(settings or {}))
    try:
        log = (lambda line: print(line, flush=True)) if verbose else None
        worker = make_worker(worker_id, queue, allowed_dirs=allowed_dirs, log=log,
                             kill_children=True)
        counts = worker.start(burst=burst, on_registered=ready.set if ready is not None else None)
        return {"worker_id": worker_id, **counts.as_dict()}
    finally:
        queue.close()
        sys.stdout.flush()


class WorkflowFleet(WorkerFleet):
    """Session 5's ``WorkerFleet`` (start, kill, alive, replace_dead, stop), for workflow workers:
    its processes run ``run_workflow_worker``."""

    worker_entry = staticmethod(run_workflow_worker)
