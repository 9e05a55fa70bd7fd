"""Workers for workflows: session 5's ``RedisWorker`` with session 8's queue and handlers.

Nothing of the worker changes: it gets a ``WorkflowQueue`` (whose periodic chores
also promote staged tasks and sweep running workflows) and a registry whose
handlers report progress and record workflow results (handlers.py).
``run_workflow_worker`` is the function a child process runs (importable, for
``spawn``); ``WorkflowFleet`` is session 5's ``WorkerFleet`` starting it instead.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from session5_recovery.tools import WorkerFleet
from session5_recovery.workers import HandlerRegistry, RecoverySettings, RedisWorker

from .handlers import workflow_handlers
from .queue import WorkflowQueue


def make_worker(worker_id: str, queue: WorkflowQueue, *, types: HandlerRegistry | None = None,
                **kwargs: Any) -> RedisWorker:
    """A session 5 worker that runs workflow nodes and reports progress.

    ``types``: the handlers to run (default: session 5's and session 8's demo types).
    """
    return RedisWorker(worker_id, None, queue, handlers=workflow_handlers(queue, types), **kwargs)


def run_workflow_worker(worker_id: str, redis_url: str, queue_name: str, burst: bool = False, *,
                        settings: dict[str, Any] | None = None,
                        allowed_dirs: list[str] | None = None, ready: Any = None,
                        verbose: bool = False) -> dict[str, Any]:
    """Connect to ``redis_url`` and work on ``queue_name``; the worker's counts at the end."""
    queue = WorkflowQueue(url=redis_url, queue_name=queue_name,
                          settings=RecoverySettings.from_dict(settings or {}))
    try:
        queue.check_connection()
        log = (lambda line: print(line, flush=True)) if verbose else None
        worker = make_worker(worker_id, queue, allowed_dirs=allowed_dirs, log=log,
                             kill_children=True)
        counts = worker.start(burst=burst, on_registered=ready.set if ready is not None else None)
        return {"worker_id": worker_id, **counts.as_dict()}
    finally:
        queue.close()
        sys.stdout.flush()


class WorkflowFleet(WorkerFleet):
    """Session 5's ``WorkerFleet`` (kill, alive, replace_dead, stop), starting workflow workers."""

    def start(self, count: int = 1, *, timeout: float = 30.0) -> list[str]:
        pending = []
        for _ in range(count):
            self._started += 1
            worker_id = f"{self.prefix}-{self._started}"
            ready = self.ctx.Event()
            process = self.ctx.Process(
                target=run_workflow_worker, name=worker_id, daemon=True,
                args=(worker_id, self.redis_url, self.queue_name, self.burst),
                kwargs={"settings": self.settings.to_dict(), "allowed_dirs": self.allowed_dirs,
                        "verbose": self.verbose, "ready": ready})
            process.start()
            self.processes[worker_id] = process
            pending.append((worker_id, ready))
        deadline = time.monotonic() + timeout
        for worker_id, ready in pending:
            if not ready.wait(max(0.0, deadline - time.monotonic())):
                raise RuntimeError(f"worker {worker_id} did not start within {timeout:.0f} s "
                                   f"(exit code {self.processes[worker_id].exitcode})")
        return [worker_id for worker_id, _ in pending]
