"""A pool of worker threads sharing one queue, with a graceful stop.

Graceful means three things, in this order:

1. stop claiming: one shared ``threading.Event`` is set, and every worker checks it
   before it claims its next task;
2. finish in-flight work: a worker in the middle of a task completes it (and marks it
   completed or failed) before it looks at the event again;
3. join: ``stop()`` returns only when every thread has ended (or the timeout passed).

Nothing is lost: a task is either still pending (never claimed) or finished. Nothing
is half-written either: ``FilterPipeline.process_file`` writes to a temporary file and
renames it, so an output file is complete or absent.
"""

from __future__ import annotations

import copy
import threading
import time

from session1_basics.task_queue import TaskQueue
from session2_pipeline.core import FilterPipeline

from .worker import Worker, WorkerCounts


class WorkerPool:
    """``n`` threaded workers on one ``TaskQueue``, started and stopped together.

    ::

        pool = WorkerPool(4, queue, pipeline).start()
        pool.wait_until_done()     # every task added so far is completed or failed
        pool.stop()                # stop claiming, finish in-flight work, join
        for counts in pool.counts(): print(counts.worker_id, counts.completed)

    It is also a context manager: ``with WorkerPool(4, queue, pipeline) as pool: ...``
    starts on entry and stops gracefully on exit.
    """

    def __init__(self, n: int, queue: TaskQueue, pipeline: FilterPipeline, *,
                 poll_timeout: float = 0.2, name: str = "worker") -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"WorkerPool(n={n!r}): n is the number of worker threads, "
                             f"a whole number of 1 or more")
        self.queue = queue
        self.stop_event = threading.Event()
        self.workers = [
            Worker(f"{name}-{index}", queue, pipeline, stop_event=self.stop_event,
                   poll_timeout=poll_timeout)
            for index in range(1, n + 1)
        ]
        self._started = False

    def start(self) -> WorkerPool:
        """Start every worker thread; returns the pool so ``WorkerPool(...).start()`` reads well."""
        if self._started:
            raise RuntimeError("this WorkerPool was already started; a stopped pool cannot be "
                               "restarted, so create a new WorkerPool instead")
        self._started = True
        for worker in self.workers:
            worker.start()
        return self

    def wait_until_done(self, timeout: float | None = None) -> bool:
        """Wait until the queue has nothing pending or processing; True if so, False on timeout."""
        return self.queue.join(timeout)

    def stop(self, timeout: float | None = None) -> bool:
        """Stop gracefully: stop claiming, let in-flight tasks finish, join every thread.

        ``timeout`` bounds the whole wait (not each thread's). Returns True when every
        thread has ended; False if some were still finishing their task when time ran
        out (call ``stop()`` again to keep waiting: their tasks are not abandoned).
        """
        self.stop_event.set()
        return self.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the threads to end, without asking them to; True if all have ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for worker in self.workers:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            worker.join(remaining)
        return not any(worker.is_alive() for worker in self.workers)

    def is_running(self) -> bool:
        """True while at least one worker thread is alive."""
        return any(worker.is_alive() for worker in self.workers)

    def counts(self) -> list[WorkerCounts]:
        """A snapshot of each worker's counts and busy time, in worker order."""
        return [copy.deepcopy(worker.counts) for worker in self.workers]

    def totals(self) -> dict[str, float]:
        """The pool's counts summed over its workers."""
        snapshot = self.counts()
        return {
            "workers": len(snapshot),
            "completed": sum(s.completed for s in snapshot),
            "failed": sum(s.failed for s in snapshot),
            "busy_seconds": sum(s.busy_seconds for s in snapshot),
        }

    def __enter__(self) -> WorkerPool:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __len__(self) -> int:
        return len(self.workers)

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped" if self._started else "not started"
        return f"WorkerPool({len(self.workers)} workers, {state})"
