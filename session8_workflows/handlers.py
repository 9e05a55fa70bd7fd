"""Handlers that report progress and take part in workflows, and the demo's image work.

Session 5's worker calls ``handler(data, context)``. ``workflow_handlers`` wraps
every handler of a registry so that

- ``context`` is a ``ProgressContext``: session 5's ``TaskContext`` plus
  ``context.progress(done, total, message)``;
- a task that is a workflow node (its data has ``"workflow": {"id", "node"}``)
  records its result in the workflow *before* session 5 records the task as
  completed. If the worker dies in between, the task is reaped and runs again,
  and the second record is ignored: a node's result is recorded once, and what
  waited for it is staged once.

The demo's task types: ``thumbnail`` (one image, session 2's filters, then a
small copy), ``contact_sheet`` (every thumbnail on one image), ``zip`` (files into
one archive) and ``record`` (returns its ``value``, counting its runs in a
ledger: what the fault tests count).
"""

from __future__ import annotations

import math
import re
import time
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from session2_pipeline.core import FilterFactory, load_image, save_image_atomic
from session5_recovery.workers import (
    HandlerRegistry,
    InvalidTaskError,
    PermanentTaskError,
    ResultTooLargeError,
    TaskContext,
    default_handlers,
)
from session5_recovery.workers.handlers import allowed_path

if TYPE_CHECKING:
    from .workflow_queue import WorkflowQueue

# A tight loop calling progress() writes at most this often (the last call always goes).
PROGRESS_INTERVAL = 0.25
THUMBNAIL_SIZE = (160, 160)
LEDGER_NAME = re.compile(r"[A-Za-z0-9_-]{1,50}")


@dataclass
class ProgressContext(TaskContext):
    """Session 5's ``TaskContext`` and ``progress(done, total, message)``."""

    queue: WorkflowQueue | None = None
    min_interval: float = PROGRESS_INTERVAL
    _last_sent: float = field(default=-math.inf, repr=False)

    def progress(self, done: int, total: int, message: str = "") -> bool:
        """Report ``done`` of ``total``; True if written now, False if throttled or refused.

        Written to the task's record (``progress_done``, ``progress_total``,
        ``progress_message``) and as a ``progress`` event in the queue's stream,
        at most once per ``min_interval`` seconds; the final report (done ==
        total) is always written. Only while the task is still this worker's.
        """
        for name, value in (("done", done), ("total", total)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"progress: {name} must be a whole number >= 0, got {value!r}")
        if done > total:
            raise ValueError(f"progress: done ({done}) is more than total ({total})")
        if self.queue is None:
            return False
        now = time.monotonic()
        if done < total and now - self._last_sent < self.min_interval:
            return False
        self._last_sent = now
        keys = [self.queue.keys.task(self.task_id), self.queue.keys.processing(self.worker_id),
                self.queue.keys.events]
        reply = self.queue.s8_call("progress", keys, self.task_id, self.worker_id, done, total,
                                   str(message)[:200])
        return reply[0] == "reported"


def workflow_handlers(queue: WorkflowQueue, base: HandlerRegistry | None = None) -> HandlerRegistry:
    """``base`` (default: session 5's and session 8's types), each handler wrapped (see above)."""
    base = base or demo_handlers()
    wrapped = HandlerRegistry()
    for name in base.names():
        own_limit = base.time_limit(name, None)
        wrapped.register(name, time_limit=own_limit)(_wrap(queue, base.get(name)))
    return wrapped


def _wrap(queue: WorkflowQueue, handler: Any) -> Any:
    def run(data: dict[str, Any], context: TaskContext) -> dict[str, Any] | None:
        ctx = ProgressContext(**{f.name: getattr(context, f.name) for f in fields(TaskContext)},
                              queue=queue)
        result = handler(data, ctx)
        node = data.get("workflow")
        if isinstance(node, dict) and "id" in node and "node" in node:
            if result is not None and not isinstance(result, dict):
                result = {"value": result}
            try:
                queue.encode_result(result)  # the result must fit a task before it is recorded
            except (TypeError, ResultTooLargeError) as error:
                raise PermanentTaskError(f"the result cannot be stored: {error}") from None
            queue.workflows.record_success(str(node["id"]), str(node["node"]), result)
        return result

    run.__doc__ = handler.__doc__
    return run


# --- the demo's work -------------------------------------------------------------------


def _paths(data: dict[str, Any], *names: str) -> list[str]:
    bad = [n for n in names if not isinstance(data.get(n), str) or not data.get(n)]
    if bad:
        raise InvalidTaskError(f"this task needs the text fields {list(names)}; missing or not "
                               f"text: {bad}")
    return [data[n] for n in names]


def handle_thumbnail(data: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """Session 2's filters on one image (``filters``, default none), then a small copy."""
    source, target = (allowed_path(p, context.allowed_dirs)
                      for p in _paths(data, "image_path", "output_path"))
    image = load_image(source)
    specs = data.get("filters") or []
    if specs:
        image = FilterFactory.pipeline(specs).apply(image)
    image.thumbnail(THUMBNAIL_SIZE)
    save_image_atomic(image, target)
    return {"thumbnail": str(target), "source": source.name, "size": list(image.size)}


def handle_contact_sheet(data: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """Every thumbnail of ``results`` (a chord's callback) on one image, in a grid."""
    (output,) = _paths(data, "output_path")
    target = allowed_path(output, context.allowed_dirs)
    thumbs = [r["thumbnail"] for r in data.get("results") or []
              if isinstance(r, dict) and isinstance(r.get("thumbnail"), str)]
    if not thumbs:
        raise InvalidTaskError("a contact sheet needs 'results' with at least one thumbnail")
    columns = math.ceil(math.sqrt(len(thumbs)))
    rows = math.ceil(len(thumbs) / columns)
    width, height = THUMBNAIL_SIZE
    sheet = Image.new("RGB", (columns * width, rows * height), "white")
    progress = getattr(context, "progress", None)
    for index, path in enumerate(thumbs):
        with Image.open(allowed_path(path, context.allowed_dirs)) as thumb:
            sheet.paste(thumb.convert("RGB"), ((index % columns) * width, (index // columns) * height))
        if progress:
            progress(index + 1, len(thumbs), f"pasted {Path(path).name}")
    save_image_atomic(sheet, target)
    return {"sheet": str(target), "thumbnails": thumbs}


def handle_zip(data: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """The previous step's sheet and thumbnails in one zip (written to a temp file, renamed)."""
    (output,) = _paths(data, "output_path")
    target = allowed_path(output, context.allowed_dirs)
    previous = data.get("previous") or {}
    files = [*previous.get("thumbnails", []), *([previous["sheet"]] if previous.get("sheet") else [])]
    if not files:
        raise InvalidTaskError("a zip task needs 'previous' with 'sheet' and 'thumbnails'")
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(allowed_path(path, context.allowed_dirs), arcname=Path(path).name)
    partial.replace(target)  # a zip that runs twice leaves one whole file, never half of one
    return {"zip": str(target), "files": len(files)}


def handle_record(data: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """Return ``value``; with ``ledger`` (a name), count this run in that ledger.

    The fault tests count runs, not only completions: every run of every task
    adds one to its entry (``HINCRBY`` on ``{q}:s8:ledger:<name>``, field: the
    task id), so a task that ran twice shows 2. The task names the ledger, never
    the key: task data must not choose what a worker writes. ``sleep`` seconds
    (optional) make it slow enough to be killed mid-run.
    """
    ledger = data.get("ledger")
    queue = getattr(context, "queue", None)
    if ledger is not None:
        if not isinstance(ledger, str) or not LEDGER_NAME.fullmatch(ledger):
            raise InvalidTaskError(f"'ledger' must be a name of 1-50 letters, digits, - or _; "
                                   f"got {ledger!r}")
        if queue is not None:
            queue.client.hincrby(ledger_key(queue, ledger), context.task_id, 1)
    seconds = data.get("sleep", 0)
    if isinstance(seconds, (int, float)) and 0 < seconds <= 60:
        time.sleep(seconds)
    result: dict[str, Any] = {"value": data.get("value")}
    if isinstance(data.get("results"), list):  # a chord's callback: what it was given
        result["values"] = [r.get("value") if isinstance(r, dict) else None
                            for r in data["results"]]
    return result


def ledger_key(queue: WorkflowQueue, name: str) -> str:
    """The key of the run ledger ``name`` of ``queue`` (see ``handle_record``)."""
    return f"{queue.s8.base}ledger:{name}"


def demo_handlers() -> HandlerRegistry:
    """Session 5's types (image, noop, sleep, fail, crash) and session 8's."""
    registry = default_handlers()
    for name, handler in (("thumbnail", handle_thumbnail), ("contact_sheet", handle_contact_sheet),
                          ("zip", handle_zip), ("record", handle_record)):
        registry.register(name)(handler)
    return registry
