"""Exercise 2: stop a pool of worker threads gracefully.

``StoppablePool`` runs ``n`` threads that claim tasks from a ``TaskQueue`` and hand each
task's data to ``handler``. Stopping it well means: stop claiming new tasks, let every
task already claimed finish (and be marked completed or failed), then wait for the
threads to end. Stopping it badly loses work (a claimed task that never finishes stays
"processing" forever) or keeps working after you asked it to stop.

- Part 1: ``_run``, the worker loop. Claim with ``get_task(worker_id, timeout=...)`` and
  handle each task with ``_handle``, until the stop event is set. Check the event
  before each claim, never in the middle of a task.
- Part 2: ``stop(timeout=None)``. Set the stop event, then join every thread so that
  ``stop`` returns only when in-flight work is done. ``timeout`` bounds the whole
  wait; return True if every thread ended, False if time ran out.
"""

from __future__ import annotations

import threading
import time  # noqa: F401  (time.monotonic helps with the timeout)
from collections.abc import Callable
from typing import Any

from session1_basics.task import Task
from session1_basics.task_queue import TaskQueue

Handler = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class StoppablePool:
    """``n`` worker threads that run ``handler(task.data)`` for each task of ``queue``."""

    def __init__(self, n: int, queue: TaskQueue, handler: Handler, *,
                 poll_timeout: float = 0.05) -> None:
        self.queue = queue
        self.handler = handler
        self.poll_timeout = poll_timeout  # how long one get_task() waits before looking again
        self.stop_event = threading.Event()
        self.claimed: list[str] = []  # ids of the tasks the workers claimed, in order
        self.threads = [
            threading.Thread(target=self._run, args=(f"worker-{i}",), name=f"worker-{i}",
                             daemon=True)
            for i in range(1, n + 1)
        ]

    def start(self) -> StoppablePool:
        for thread in self.threads:
            thread.start()
        return self

    def _handle(self, task: Task) -> None:
        """Run one claimed task and mark it completed or failed (given: no need to change)."""
        self.claimed.append(task.id)
        try:
            result = self.handler(task.data)
        except Exception as error:
            self.queue.mark_failed(task.id, f"{type(error).__name__}: {error}")
        else:
            self.queue.mark_completed(task.id, result)

    # --- Part 1 ----------------------------------------------------------------------

    def _run(self, worker_id: str) -> None:
        """The worker loop: claim and handle tasks until the stop event is set."""
        # TODO (part 1): claim and handle tasks (self._handle marks each one) until asked
        # to stop. Rules: no claim after the stop event is set; a task already claimed is
        # always finished; an idle worker (empty queue) must still notice the event.
        raise NotImplementedError("Exercise 2, part 1: write the worker loop that checks the "
                                  "stop event before each claim (hint: make hint SESSION=3 EXERCISE=2)")

    # --- Part 2 ----------------------------------------------------------------------

    def stop(self, timeout: float | None = None) -> bool:
        """Stop claiming, let in-flight tasks finish, join the threads; True if all ended."""
        # TODO (part 2): return only once the tasks in flight are done. Rules: `timeout`
        # bounds the whole call, not each thread; True means no worker thread is alive.
        raise NotImplementedError("Exercise 2, part 2: set the stop event and join the "
                                  "threads (hint: make hint SESSION=3 EXERCISE=2)")
