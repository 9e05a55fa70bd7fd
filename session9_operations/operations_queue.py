"""Session 5's queue, with three additions for webhooks.

- ``add_task``/``add_tasks`` refuse a ``webhook_url`` the workers would refuse to call
  (webhooks.py: scheme, credentials, allow-list, internal addresses), with one line,
  before anything is written: the producer hears about it, not the dead-letter queue;
- a task the reaper dead-letters gets its webhook;
- the periodic maintenance (``maintain``, run by every worker's heartbeat thread)
  queues every owed notification whose task finished but whose delivery was never
  queued: its worker died between the two steps (outbox.py).

A worker sends a task's webhook after recording its outcome (worker.py). A task whose
worker died is finished by somebody else: the reaper of another worker, which
dead-letters it once its attempts are used up. ``OperationsQueue.reap`` queues the
webhook of each task it dead-lettered, so that ending is notified too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from session5_recovery.workers import Recovery, RedisTaskQueue
from session5_recovery.workers.redis_task_queue import COMMAND_CHUNK
from session8_workflows.workflow_queue import WorkflowQueue

from .api_limits import budgets_pattern
from .outbox import deliver_owed, outbox_key, settle
from .ratelimit import limits_key, starts_pattern
from .webhooks import check_webhook_url, delivered_key


class OperationsQueue(RedisTaskQueue):
    """A ``RedisTaskQueue`` whose reaper also notifies the ends it causes."""

    def add_task(self, data: dict[str, Any], **options: Any) -> str:
        _check_webhook(data)
        return super().add_task(data, **options)

    def add_tasks(self, items: Iterable[dict[str, Any]], **options: Any) -> list[str]:
        items = list(items)
        checked: list[Any] = []  # each address once, not once per task: a check resolves the host
        for data in items:
            url = data.get("webhook_url") if isinstance(data, dict) else None
            if url is not None and url not in checked:
                _check_webhook(data)
                checked.append(url)
        return super().add_tasks(items, **options)

    def reap(self, extra_workers: Sequence[str] = ()) -> list[Recovery]:
        recovered = super().reap(extra_workers)
        for recovery in recovered:
            if recovery.outcome == "dead_lettered":
                settle(self, recovery.task_id, "dead_lettered")
        return recovered

    def maintain(self) -> tuple[list[Recovery], int]:
        """Session 5's chores, then the owed notifications of finished tasks."""
        done = super().maintain()
        deliver_owed(self)
        return done

    def clear(self) -> int:
        """Session 5's clear, and this session's keys: the webhook outbox and delivered
        count, the rate limits and each task type's window, each API client's window."""
        deleted = super().clear() + self.client.unlink(
            outbox_key(self.keys), delivered_key(self.keys), limits_key(self.keys))
        for pattern in (starts_pattern(self.keys), budgets_pattern(self.keys.prefix)):
            deleted += unlink_matching(self.client, pattern)
        return deleted


class WorkflowOperationsQueue(OperationsQueue, WorkflowQueue):
    """This session's queue and session 8's workflow engine, in one.

    Both classes extend session 5's queue by overriding methods that call ``super()``
    (``add_task``, ``maintain``, ``clear``), so combining them takes no code: the
    chores reap and notify (here), then promote staged nodes and sweep running
    workflows (session 8). With an ``OperationsWorker`` on it, a workflow's tasks keep
    the fleet's rate limits, and the workflow's ``workflow_progress`` events draw its
    bar on session 6's dashboard.
    """


def unlink_matching(client: Any, pattern: str) -> int:
    """UNLINK the keys matching ``pattern``, a chunk at a time as SCAN finds them; how many.

    SCAN, never KEYS: KEYS walks the whole keyspace in one command and blocks every
    other client meanwhile; SCAN walks it in small steps. A key SCAN returns twice is
    simply not counted the second time (UNLINK of a missing key counts 0).
    """
    deleted, chunk = 0, []
    for key in client.scan_iter(match=pattern, count=1000):
        chunk.append(key)
        if len(chunk) == COMMAND_CHUNK:
            deleted += client.unlink(*chunk)
            chunk = []
    if chunk:
        deleted += client.unlink(*chunk)
    return deleted


def _check_webhook(data: Any) -> None:
    if isinstance(data, dict) and data.get("webhook_url") is not None:
        check_webhook_url(data["webhook_url"])  # WebhookUrlError: one line, nothing queued
