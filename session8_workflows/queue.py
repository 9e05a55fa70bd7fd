"""Session 5's queue, grown delayed tasks: ``add_task(data, run_at=...)`` or ``delay=``.

Session 5's enqueue puts a task in pending at once; its delayed set holds only
retries, and no public call puts a new task there. So a task that must wait is
*staged* here first: ``{q}:s8:staged`` (a ZSET: id -> due time) with its envelope
in ``{q}:s8:staged:data``. When it falls due, the promoter hands it to session 5's
``add_task`` under the id it was given, so a promotion that runs twice (two
workers, or a crash between "enqueued" and "unstaged") is refused as a duplicate
instead of running the task twice. Workers promote in their periodic chores
(``promote_due`` is session 5's method, extended here), and so does the scheduler.

Workflow nodes use the same staging: the step that records the last parent's
result also stages the node that waited for it, atomically (see engine.py).
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from pathlib import Path
from typing import Any

from session5_recovery.workers import DuplicateTaskError, RedisTaskQueue, TaskStatus
from session5_recovery.workers.redis_task_queue import MAX_TASK_BYTES, TASK_ID_PATTERN
from session5_recovery.workers.task import as_json_object

from .keys import WorkflowKeys

SCRIPT = Path(__file__).with_name("workflows.lua").read_text(encoding="utf-8")
# A run_at this far in the past is a mistake (a date typed wrong), not clock jitter.
PAST_TOLERANCE = 1.0
# Tasks the promoter enqueues per call: one call stays short however much fell due.
PROMOTE_BATCH = 100

log = logging.getLogger(__name__)


class WorkflowQueue(RedisTaskQueue):
    """Session 5's ``RedisTaskQueue`` with delayed tasks and the workflow engine.

    Everything session 5's queue does, it does the same way. Added:
    ``add_task(..., run_at=ts)`` / ``add_task(..., delay=s)``, ``staged()``,
    ``promote_due()`` that also enqueues staged tasks that are due, ``maintain()``
    that also looks after running workflows, and ``workflows`` (engine.py).
    """

    promote_batch = PROMOTE_BATCH

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.s8 = WorkflowKeys(self.keys)
        self._s8_script = self.client.register_script(SCRIPT)
        from .engine import Workflows  # the engine needs the queue; the queue owns one engine

        self.workflows = Workflows(self)

    def s8_call(self, command: str, keys: list[str], *args: Any, client: Any = None) -> list[Any]:
        """Run one command of workflows.lua (now = the settings' clock)."""
        argv = [command, repr(self.settings.clock()), self.settings.events_maxlen, *args]
        return self._s8_script(keys=keys, args=argv, client=client)

    # --- delayed tasks ------------------------------------------------------------

    def add_task(self, data: dict[str, Any], *, task_id: str | None = None,
                 priority: str = "normal", max_attempts: int | None = None,
                 run_at: float | None = None, delay: float | None = None) -> str:
        """Session 5's ``add_task``; with ``run_at`` (a Unix time) or ``delay`` (seconds), later.

        A delayed task waits in the staged set and is enqueued under ``task_id``
        (a fresh id if None) when it falls due. DuplicateTaskError if the id is
        already staged or held by the queue; ValueError for a ``run_at`` in the past.
        """
        if run_at is None and delay is None:
            return super().add_task(data, task_id=task_id, priority=priority,
                                    max_attempts=max_attempts)
        due = self.due_time(run_at, delay)
        data = as_json_object(data)  # TypeError now, not when it falls due
        text = json.dumps({"data": data, "priority": priority, "max_attempts": max_attempts})
        if len(text.encode()) > MAX_TASK_BYTES:
            raise ValueError(f"task data is {len(text.encode()):,} bytes of JSON; the limit is "
                             f"{MAX_TASK_BYTES:,}. Store large inputs in a file")
        if not isinstance(data.get("type", "image"), str):
            raise ValueError(f"'type' must be a task type name such as 'image', got {data['type']!r}")
        if priority not in ("high", "normal", "low"):
            raise ValueError(f"priority must be one of high, normal, low; got {priority!r}")
        task_id = task_id or uuid.uuid4().hex
        check_task_id(task_id)
        reply = self.s8_call("stage", [self.s8.staged, self.s8.staged_data, self.keys.tasks],
                             task_id, repr(due), text)
        if reply[0] == "duplicate":
            raise DuplicateTaskError(task_id, self.queue_name)
        return task_id

    def due_time(self, run_at: float | None, delay: float | None) -> float:
        """The Unix time a task asked for with ``run_at`` or ``delay``; ValueError if unusable."""
        if run_at is not None and delay is not None:
            raise ValueError("give run_at (a time) or delay (seconds), not both")
        now = self.settings.clock()
        value, name = (run_at, "run_at") if run_at is not None else (delay, "delay")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        if delay is not None:
            if delay < 0:
                raise ValueError(f"delay must be >= 0 seconds, got {delay!r}")
            return now + delay
        if run_at < now - PAST_TOLERANCE:
            raise ValueError(f"run_at {run_at:.3f} is {now - run_at:.1f} s in the past; to run "
                             f"now, leave run_at out (or use delay=0)")
        return float(run_at)

    def staged(self) -> list[tuple[str, float]]:
        """(task id, due time) of every staged task, earliest first."""
        return [(i, float(s)) for i, s in self.client.zrange(self.s8.staged, 0, -1, withscores=True)]

    def promote_due(self, limit: int = PROMOTE_BATCH) -> int:
        """Session 5's retries, then the staged tasks that are due; how many moved."""
        return super().promote_due(limit) + self.promote_staged(limit)

    def promote_staged(self, limit: int = PROMOTE_BATCH) -> int:
        """Enqueue the staged tasks whose due time has come; how many were enqueued now.

        Each goes to session 5's ``add_task`` under its own id, and is unstaged
        after: a promotion repeated by another process (or after a crash in
        between) is refused as a duplicate and only unstages.
        """
        ids = self.client.zrangebyscore(self.s8.staged, "-inf", self.settings.clock(),
                                        start=0, num=limit)
        if not ids:
            return 0
        envelopes = self.client.hmget(self.s8.staged_data, ids)
        enqueued = 0
        for task_id, text in zip(ids, envelopes, strict=True):
            if text is not None:
                enqueued += self._enqueue_staged(task_id, json.loads(text))
            self.s8_call("unstage", [self.s8.staged, self.s8.staged_data], task_id)
        return enqueued

    def _enqueue_staged(self, task_id: str, envelope: dict[str, Any]) -> int:
        if "workflow" in envelope:
            return self.workflows.enqueue_node(task_id, envelope["workflow"], envelope["node"])
        try:
            super().add_task(envelope["data"], task_id=task_id,
                             priority=envelope.get("priority") or "normal",
                             max_attempts=envelope.get("max_attempts"))
        except DuplicateTaskError:
            return 0
        return 1

    # --- chores and clean-up ----------------------------------------------------------

    def maintain(self) -> tuple[list[Any], int]:
        """Session 5's chores (reap, promote), then a look at the running workflows."""
        recovered, promoted = super().maintain()
        self.workflows.sweep()
        return recovered, promoted

    def task_status(self, task_id: str) -> TaskStatus | None:
        """Session 5's status of ``task_id``; None if the queue does not hold it."""
        task = self.get_task_info(task_id)
        return None if task is None else task.status

    def clear(self) -> int:
        """Session 5's ``clear``, and session 8's keys of this queue."""
        deleted = super().clear()
        keys = list(self.client.scan_iter(match=self.s8.pattern, count=1000))
        for start in range(0, len(keys), 1000):
            deleted += self.client.delete(*keys[start:start + 1000])
        return deleted


def check_task_id(task_id: Any) -> None:
    """ValueError unless ``task_id`` is an id session 5 accepts (checked before staging)."""
    if not isinstance(task_id, str) or not TASK_ID_PATTERN.fullmatch(task_id):
        raise ValueError(f"task_id must be 1-200 letters, digits or - _ . : @, got {task_id!r}; "
                         f"or leave it out to get a fresh id")
