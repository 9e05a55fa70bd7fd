"""A worker: claim a task from Redis, do it, record the outcome, repeat.

Any number of these can run, in threads, processes or on other machines, all
pointed at the same queue: Redis hands each task to exactly one of them.

What a task asks for is in its JSON ``data``::

    {"image_path": "in.jpg", "output_path": "out.jpg"}            the worker's own pipeline
    {"image_path": ..., "output_path": ..., "filters": ["blur:radius=2", "grayscale"]}
    {"type": "noop"}                     does nothing (benchmarks and tests measure the queue)
    {"type": "sleep", "seconds": 2}      takes time (demos show slow work and crashes)

``type`` defaults to ``"image"``. A task the worker cannot run (not an image,
unknown filter, missing field, unknown type) is marked failed with a reason
that says what was wrong, and the worker goes on with the next task.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from session1_basics.task import Task
from session2_pipeline.core import FilterFactory, FilterPipeline, default_pipeline

from .redis_task_queue import RedisTaskQueue

# The longest a "sleep" task may ask for: a typo such as 3600 should not hang a demo.
MAX_SLEEP_SECONDS = 600.0


class InvalidTaskError(ValueError):
    """The task's data does not describe work this worker can do (retrying will not help)."""


@dataclass
class WorkerCounts:
    """What one worker did: tasks completed and failed, and seconds spent in ``start``."""

    completed: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def processed(self) -> int:
        return self.completed + self.failed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe_error(error: BaseException) -> str:
    """The reason stored on a failed task: the error's kind and its message."""
    return f"{type(error).__name__}: {error}"


class RedisWorker:
    """Processes tasks from ``queue`` with ``pipeline`` (the default when a task names no filters).

    ``poll_timeout`` is how long one blocking claim waits in forever mode
    before checking whether it was asked to stop; it does not poll Redis (the
    wait happens inside the server). ``log`` receives one line per event (None
    for silence).
    """

    def __init__(
        self,
        worker_id: str,
        pipeline: FilterPipeline | None,
        queue: RedisTaskQueue,
        *,
        poll_timeout: float = 1.0,
        log: Callable[[str], None] | None = print,
    ) -> None:
        self.worker_id = worker_id
        self.pipeline = pipeline if pipeline is not None else default_pipeline()
        self.queue = queue
        self.poll_timeout = poll_timeout
        self.counts = WorkerCounts()
        self._log = log
        self._stop = threading.Event()
        self._pipelines: dict[tuple[str, ...], FilterPipeline] = {}  # built from task specs

    # --- running -------------------------------------------------------------

    def start(self, burst: bool = True, *, max_tasks: int | None = None) -> WorkerCounts:
        """Process tasks; return this worker's counts.

        ``burst=True`` stops when the queue is empty (handy for batches and
        tests). ``burst=False`` runs until ``stop()`` or Ctrl+C, waiting for new
        tasks. Either way Ctrl+C (SIGINT) lets the current task finish first.
        """
        self._stop.clear()
        started = time.perf_counter()
        self._say(f"started ({'burst: until the queue is empty' if burst else 'waiting for tasks; Ctrl+C to stop'})")
        with self._stop_on_sigint():
            while not self._stop.is_set():
                # Burst mode does not wait: an empty queue means the batch is done.
                task = self.queue.get_task(self.worker_id, timeout=0 if burst else self.poll_timeout)
                if task is None:
                    if burst:
                        break
                    continue  # nothing arrived within poll_timeout: check _stop, wait again
                self.process(task)
                if max_tasks is not None and self.counts.processed >= max_tasks:
                    break
        self.counts.seconds += time.perf_counter() - started
        self._say(f"stopped: {self.counts.completed} completed, {self.counts.failed} failed "
                  f"in {self.counts.seconds:.2f} s")
        return self.counts

    def stop(self) -> None:
        """Ask the worker to stop after the current task (safe to call from any thread)."""
        self._stop.set()

    def process(self, task: Task) -> bool:
        """Run one claimed task and record its outcome; True if it completed."""
        started = time.perf_counter()
        try:
            result = self.handle(task.data)
        except Exception as error:  # any error in one task must not stop the worker
            reason = describe_error(error)
            self.queue.mark_failed(task.id, reason)
            self.counts.failed += 1
            self._say(f"FAILED {task.id[:8]}: {reason}")
            return False
        self.queue.mark_completed(task.id, result)
        self.counts.completed += 1
        if self._log is not None:  # build the line only if someone reads it
            self._say(f"completed {task.id[:8]} ({_label(task.data)}) "
                      f"in {time.perf_counter() - started:.2f} s")
        return True

    # --- what a task means ------------------------------------------------------

    def handle(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """Do the work ``data`` describes and return a JSON-ready result (or None)."""
        kind = data.get("type", "image")
        if kind == "image":
            return self._run_image(data)
        if kind == "noop":
            return None
        if kind == "sleep":
            return self._run_sleep(data)
        raise InvalidTaskError(f"unknown task type {kind!r}; this worker runs the types "
                           f"'image' (the default), 'noop' and 'sleep'")

    def _run_image(self, data: dict[str, Any]) -> dict[str, Any]:
        bad = [name for name in ("image_path", "output_path")
               if not isinstance(data.get(name), str) or not data.get(name)]
        if bad:
            raise InvalidTaskError(
                f"an image task needs the text fields 'image_path' and 'output_path'; "
                f"missing or not text: {bad}; the task has the fields {sorted(data)}")
        specs = data.get("filters")
        pipeline = self.pipeline if specs is None else self._pipeline_for(specs)
        return pipeline.process_file(Path(data["image_path"]), Path(data["output_path"]))

    def _pipeline_for(self, specs: Any) -> FilterPipeline:
        """The pipeline a task's ``filters`` field asks for, built once per distinct list."""
        if isinstance(specs, str):
            specs = specs.split("|")
        if not (isinstance(specs, Sequence) and all(isinstance(s, str) for s in specs)):
            raise InvalidTaskError(f"'filters' must be a list of specs such as "
                               f"['blur:radius=2', 'grayscale'], got {specs!r}")
        key = tuple(specs)
        if key not in self._pipelines:
            # UnknownFilterError / FilterParameterError name the bad step and the valid ones.
            self._pipelines[key] = FilterFactory.pipeline(list(key))
        return self._pipelines[key]

    @staticmethod
    def _run_sleep(data: dict[str, Any]) -> dict[str, Any]:
        seconds = data.get("seconds", 1.0)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not 0 <= seconds <= MAX_SLEEP_SECONDS:
            raise InvalidTaskError(f"a sleep task needs 'seconds' between 0 and "
                               f"{MAX_SLEEP_SECONDS:g}, got {seconds!r}")
        time.sleep(seconds)
        return {"slept": seconds}

    # --- helpers -------------------------------------------------------------

    def _say(self, message: str) -> None:
        if self._log is not None:
            self._log(f"[{self.worker_id}] {message}")

    @contextmanager
    def _stop_on_sigint(self) -> Iterator[None]:
        """While running: the first Ctrl+C asks for a stop after the current task.

        The handler puts the previous one back at once, so a second Ctrl+C
        interrupts immediately (the current task then stays in the processing
        list: the "stuck task" that session 5 recovers). Signal handlers can
        only be set in the main thread; elsewhere, use ``stop()``.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        # None means a handler set outside Python: fall back to the default (KeyboardInterrupt).
        previous = signal.getsignal(signal.SIGINT) or signal.default_int_handler

        def on_sigint(signum: int, frame: object) -> None:
            signal.signal(signal.SIGINT, previous)
            self._say("Ctrl+C: stopping after the current task, if any "
                      "(press Ctrl+C again to quit at once)")
            self.stop()

        signal.signal(signal.SIGINT, on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def _label(data: dict[str, Any]) -> str:
    if data.get("type", "image") != "image":
        return str(data.get("type"))
    return Path(str(data.get("image_path", "?"))).name
