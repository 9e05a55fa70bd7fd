"""Session 5's queue, grown the workflow engine; delayed tasks are session 5's own.

``add_task(data, run_at=...)`` / ``delay=`` is session 5's ``add_task``: the task
is created in state "delayed" in ``{q}:delayed`` (where retries wait) and the
promotion in every worker's chores makes it pending when due, atomically, so it
is counted by ``conservation()`` and shown by the monitor all along.

Workflow nodes that become ready wait in a set of session 8's own,
``{q}:s8:staged`` (a ZSET: id -> the time it became ready) with its envelope in
``{q}:s8:staged:data``: the step that records a parent's result stages the
node that waited for it, atomically (see engine.py). A node cannot go into
session 5's delayed set at that moment: its task data (the parents' results) is
assembled only when it is enqueued, and it must not be enqueued at all if the
workflow failed meanwhile. The promoter hands it to session 5's ``add_task``
under the id ``<workflow>.<node>``, so a promotion that runs twice (two workers,
or a crash between "enqueued" and "unstaged") is refused as a duplicate instead
of running the node twice. Workers promote in their periodic chores
(``promote_due`` is session 5's method, extended here), and so does the scheduler.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from session5_recovery.workers import RedisTaskQueue, TaskStatus

from .keys import WorkflowKeys

SCRIPT = Path(__file__).with_name("workflows.lua").read_text(encoding="utf-8")
# Staged nodes the promoter enqueues per call: one call stays short however many are ready.
PROMOTE_BATCH = 100

log = logging.getLogger(__name__)


class WorkflowQueue(RedisTaskQueue):
    """Session 5's ``RedisTaskQueue`` with the workflow engine.

    Everything session 5's queue does, it does the same way, delayed tasks
    (``add_task(..., run_at=ts)`` / ``delay=s``) included. Added: ``staged()``
    (workflow nodes ready to be enqueued), ``promote_due()`` that also enqueues
    them, ``maintain()`` that also looks after running workflows, and
    ``workflows`` (engine.py).
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

    # --- workflow nodes ready to run ------------------------------------------------

    def staged(self) -> list[tuple[str, float]]:
        """(task id, time it became ready) of every staged workflow node, earliest first."""
        return [(i, float(s)) for i, s in self.client.zrange(self.s8.staged, 0, -1, withscores=True)]

    def promote_due(self, limit: int = PROMOTE_BATCH) -> int:
        """Session 5's delayed tasks that are due, then the staged nodes; how many moved."""
        return super().promote_due(limit) + self.promote_staged(limit)

    def promote_staged(self, limit: int = PROMOTE_BATCH) -> int:
        """Enqueue the staged workflow nodes; how many were enqueued now.

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
                node = json.loads(text)
                enqueued += self.workflows.enqueue_node(task_id, node["workflow"], node["node"])
            self.s8_call("unstage", [self.s8.staged, self.s8.staged_data], task_id)
        return enqueued

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

