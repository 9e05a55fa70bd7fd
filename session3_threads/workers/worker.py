"""A worker thread: claim an image task from the queue, run the filters, report the outcome.

The loop is the whole idea of a task queue worker::

    while not asked to stop:
        task = queue.get_task(my_id, timeout=poll_timeout)   # claim (or time out)
        if task: run it, then mark_completed or mark_failed

Two details matter:

- The worker checks the stop event *between* tasks, never in the middle of one, so
  stopping never leaves a task half done. ``poll_timeout`` bounds how long an idle
  worker takes to notice the stop event (it is blocked in ``get_task`` meanwhile).
- A task that raises is marked failed with its error, and the loop goes on: one bad
  image must not take a worker (and the tasks behind it) down with it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from session1_basics.task import Task
from session1_basics.task_queue import TaskQueue
from session2_pipeline.core import FilterFactory, FilterPipeline

logger = logging.getLogger(__name__)


class InvalidTaskError(ValueError):
    """The task's data is not an image task; retrying it cannot help."""


@dataclass
class WorkerCounts:
    """What one worker did. Written only by its own thread; safe to read at any time."""

    worker_id: str
    completed: int = 0
    failed: int = 0
    busy_seconds: float = 0.0  # time spent running tasks (not waiting for them)
    task_ids: list[str] = field(default_factory=list)  # in the order they were claimed

    @property
    def processed(self) -> int:
        return self.completed + self.failed


def describe_error(error: BaseException) -> str:
    """A one-line error message for the task record: the exception type and its text."""
    return f"{type(error).__name__}: {error}"


def image_task_fields(data: dict[str, Any]) -> tuple[str, str, Sequence[str] | str | None]:
    """Check that ``data`` is an image task; return (image_path, output_path, filters)."""
    example = '{"image_path": "in.jpg", "output_path": "out.jpg", "filters": ["blur:radius=2"]}'
    for key in ("image_path", "output_path"):
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise InvalidTaskError(f"task data needs {key!r} as a non-empty string, got "
                                   f"{value!r}; an image task looks like {example}")
    filters = data.get("filters")
    if filters is not None and not (
        isinstance(filters, str)
        or (isinstance(filters, list) and all(isinstance(spec, str) for spec in filters))
    ):
        raise InvalidTaskError(f"task 'filters' must be a list of filter specs such as "
                               f"['blur:radius=2', 'grayscale'] (or leave it out to use the "
                               f"worker's pipeline); got {filters!r}")
    return data["image_path"], data["output_path"], filters


class Worker:
    """One thread that processes image tasks from a shared ``TaskQueue``.

    A task is ``{"image_path", "output_path", "filters"?}``. With ``filters`` (a list of
    specs such as ``"blur:radius=2"``) the task brings its own pipeline, built by
    ``FilterFactory.pipeline``; without it the worker's ``pipeline`` applies.

    ``stop_event`` is shared by all workers of a pool, so one ``set()`` stops them all.
    Use ``start()`` to run in a new thread, or call ``run()`` to work in the current one.
    """

    def __init__(self, worker_id: str, queue: TaskQueue, pipeline: FilterPipeline, *,
                 stop_event: threading.Event | None = None, poll_timeout: float = 0.2) -> None:
        if poll_timeout <= 0:
            raise ValueError(f"poll_timeout={poll_timeout!r}: use a positive number of seconds "
                             f"(it is how often an idle worker checks whether to stop)")
        self.worker_id = worker_id
        self.queue = queue
        self.pipeline = pipeline
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self.poll_timeout = poll_timeout
        self.counts = WorkerCounts(worker_id)
        self._thread: threading.Thread | None = None

    # --- the loop ------------------------------------------------------------

    def run(self) -> None:
        """Claim and process tasks until the stop event is set."""
        while not self.stop_event.is_set():
            task = self.queue.get_task(self.worker_id, timeout=self.poll_timeout)
            if task is None:
                continue  # nothing to do yet: look at the stop event again
            try:
                self.process(task)
            except Exception:  # only the queue's own bookkeeping can get here
                logger.exception("%s: could not record the outcome of task %s",
                                 self.worker_id, task.id)

    def process(self, task: Task) -> bool:
        """Run one claimed task and mark it completed or failed; True if it completed."""
        self.counts.task_ids.append(task.id)
        started = time.perf_counter()
        try:
            result = self.execute(task)
        except Exception as error:
            self.counts.busy_seconds += time.perf_counter() - started
            self.counts.failed += 1
            self.queue.mark_failed(task.id, describe_error(error))
            return False
        self.counts.busy_seconds += time.perf_counter() - started
        try:
            self.queue.mark_completed(task.id, result)
        except TypeError as error:  # the result is not JSON: record that rather than lose it
            self.counts.failed += 1
            self.queue.mark_failed(task.id, f"the task ran but its result could not be "
                                            f"stored: {describe_error(error)}")
            return False
        self.counts.completed += 1
        return True

    def execute(self, task: Task) -> dict[str, Any]:
        """Do the work of one task and return its JSON-ready result (raises on failure)."""
        image_path, output_path, filters = image_task_fields(task.data)
        pipeline = FilterFactory.pipeline(filters) if filters is not None else self.pipeline
        return pipeline.process_file(image_path, output_path)

    # --- running in a thread ---------------------------------------------------

    def start(self) -> Worker:
        """Run the loop in a new (daemon) thread named after the worker."""
        if self._thread is not None:
            raise RuntimeError(f"{self.worker_id} was already started; a thread runs once, so "
                               f"create a new Worker to start again")
        # A daemon thread cannot keep the interpreter alive if someone forgets stop();
        # stop() (which joins) is what lets in-flight work finish.
        self._thread = threading.Thread(target=self.run, name=self.worker_id, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the worker to stop after its current task and wait; True if it has stopped."""
        self.stop_event.set()
        return self.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (it ends only after the stop event); True if it did."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        state = "running" if self.is_alive() else "idle"
        return (f"Worker({self.worker_id!r}, {state}, completed={self.counts.completed}, "
                f"failed={self.counts.failed})")
