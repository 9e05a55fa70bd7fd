"""The one task every engine runs, and the ledger that says what happened to it.

Every engine (Dramatiq, RQ, Celery, our Streams consumer) calls ``perform`` with
the same JSON data, so the comparison measures the engines, not the work. A task
is one of::

    {"image_path": "in.jpg", "output_path": "out.png", "filters": ["blur:radius=2"]}
    {"type": "noop"}                 nothing: what is left to measure is the engine
    {"type": "sleep", "seconds": 2}  slow work (a window to kill the worker in)
    {"type": "crash"}                poison: SIGKILLs whatever process runs it
    {"type": "flaky", "times": 2}    raises TransientError on its first 2 runs

The ledger is a few Redis keys under a namespace, written by the task itself:
each start (time and pid of the process running it) and each finish. The
harness reads it to answer the questions no engine answers the same way: how
many times did the task run, which process holds it right now (the one to
``kill -9``), and did it finish. The engines' own state (RQ's failed registry,
Celery's result backend, the dead-letter queues) says where a task *ended*.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import redis

from session2_pipeline.core import FilterFactory, resolve_inside

# The worker commands are separate programs: they learn where to report from these.
ENV_REDIS_URL = "S7_REDIS_URL"
ENV_NAMESPACE = "S7_NAMESPACE"
ENV_ALLOWED_DIR = "S7_ALLOWED_DIR"
DEFAULT_FILTERS = ["blur:radius=2", "edges", "grayscale"]
MAX_SLEEP_SECONDS = 600.0


class TransientError(RuntimeError):
    """A failure a retry can fix (the ``flaky`` task raises it)."""


class BadTaskError(ValueError):
    """The task's data describes no work (retrying cannot help)."""


class Ledger:
    """Starts and finishes per task id, under ``{namespace}:ledger:*``."""

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    def _starts_key(self, task_id: str) -> str:
        return f"{self.namespace}:ledger:starts:{task_id}"

    @property
    def _done_key(self) -> str:
        return f"{self.namespace}:ledger:done"

    def started(self, task_id: str) -> int:
        """Record a start by this process; the number of starts so far."""
        return int(self.client.rpush(self._starts_key(task_id), f"{time.time():.6f} {os.getpid()}"))

    def finished(self, task_id: str) -> None:
        self.client.rpush(self._done_key, task_id)

    def starts(self, task_id: str) -> list[tuple[float, int]]:
        """(unix time, pid) of every start of ``task_id``, oldest first."""
        rows = self.client.lrange(self._starts_key(task_id), 0, -1)
        pairs = [row.decode() if isinstance(row, bytes) else row for row in rows]
        return [(float(ts), int(pid)) for ts, pid in (p.split() for p in pairs)]

    def done_ids(self) -> list[str]:
        rows = self.client.lrange(self._done_key, 0, -1)
        return [r.decode() if isinstance(r, bytes) else r for r in rows]

    def done_count(self) -> int:
        return int(self.client.llen(self._done_key))


_ledger: Ledger | None = None


def ledger_from_env() -> Ledger:
    """The ledger of this worker process (one connection per process, made on first use)."""
    global _ledger
    if _ledger is None:
        url = os.environ.get(ENV_REDIS_URL, "redis://127.0.0.1:6379/0")
        namespace = os.environ.get(ENV_NAMESPACE, "s7")
        _ledger = Ledger(redis.Redis.from_url(url), namespace)
    return _ledger


def perform(task_id: str, data: dict[str, Any], ledger: Ledger | None = None) -> dict[str, Any]:
    """Run one task; raise on failure (each engine decides what a failure means)."""
    ledger = ledger or ledger_from_env()
    if not isinstance(data, dict):
        raise BadTaskError(f"a task is a JSON object such as {{'type': 'noop'}}, got {data!r}")
    runs = ledger.started(task_id)
    kind = data.get("type", "image")
    result: dict[str, Any] = {"task_id": task_id, "type": kind, "run": runs}
    if kind == "noop":
        pass
    elif kind == "sleep":
        seconds = data.get("seconds", 1.0)
        if not isinstance(seconds, (int, float)) or not 0 <= seconds <= MAX_SLEEP_SECONDS:
            raise BadTaskError(f"'seconds' must be a number from 0 to {MAX_SLEEP_SECONDS:g}, "
                               f"got {seconds!r}")
        time.sleep(seconds)
    elif kind == "crash":
        # No exception to catch, no finally to run: the process is simply gone.
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "flaky":
        if runs <= int(data.get("times", 1)):
            raise TransientError(f"flaky task {task_id}: run {runs} fails on purpose")
    elif kind == "image":
        result.update(run_image(data))
    else:
        raise BadTaskError(f"unknown task type {kind!r}; the types are image, noop, sleep, "
                           f"crash and flaky")
    ledger.finished(task_id)
    return result


def run_image(data: dict[str, Any]) -> dict[str, Any]:
    """Session 2's pipeline on one file; both paths must lie inside the allowed folder."""
    missing = [k for k in ("image_path", "output_path") if not isinstance(data.get(k), str)]
    if missing:
        raise BadTaskError(f"an image task needs text fields 'image_path' and 'output_path'; "
                           f"missing: {missing}")
    root = Path(os.environ.get(ENV_ALLOWED_DIR, Path.cwd()))
    source = resolve_inside(Path(data["image_path"]), root)
    target = resolve_inside(Path(data["output_path"]), root)
    pipeline = FilterFactory.pipeline(data.get("filters") or DEFAULT_FILTERS)
    return pipeline.process_file(source, target)
