"""The webhook outbox: a notification owed is written down before the outcome it reports.

Recording a task's outcome and queueing its webhook are two steps (session 5's queue
records the outcome; the delivery is a second task). A worker killed between them
leaves a finished task whose notification nobody will send. The cure is the
transactional-outbox idea of session 6, applied to Redis:

1. before a task with a ``webhook_url`` runs, its id goes into
   ``{q}:webhook_outbox``, a hash in the queue's own hash slot: "a notification is owed";
2. after the outcome is recorded, the delivery is queued and the entry removed;
3. the maintenance that every worker's heartbeat thread runs (``OperationsQueue.maintain``)
   also calls ``deliver_owed``: each entry whose task has finished (completed or
   dead-lettered) gets its delivery queued, then the entry goes.

Steps 2 and 3 may both queue the same delivery (a slow worker and a sweep): the
delivery's id is derived from the task's (``delivery_id_for``), so the queue refuses
the second copy, and exactly one delivery task exists per finished task.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from session5_recovery.workers import QueueKeys, RedisTaskQueue, TaskStatus

from .webhooks import queue_delivery

FINAL = {TaskStatus.COMPLETED.value: "completed", TaskStatus.DEAD_LETTERED.value: "dead_lettered"}


def outbox_key(keys: QueueKeys) -> str:
    """``{q}:webhook_outbox``: task id -> when the notification became owed."""
    return f"{keys.prefix}webhook_outbox"


def owe_notification(queue: RedisTaskQueue, task_ids: Iterable[str]) -> None:
    """Write down that each of ``task_ids`` will need its webhook (idempotent)."""
    owed = {task_id: repr(time.time()) for task_id in task_ids}
    if owed:
        queue.client.hset(outbox_key(queue.keys), mapping=owed)


def settle(queue: RedisTaskQueue, task_id: str, outcome: str) -> str | None:
    """Queue the delivery of ``task_id``'s final ``outcome``, then strike it off the outbox.

    In that order: a crash between the two leaves the entry, and the sweep's second
    try is refused as a duplicate. Returns the delivery id (None: no webhook).
    """
    delivery_id = queue_delivery(queue, task_id, outcome)
    queue.client.hdel(outbox_key(queue.keys), task_id)
    return delivery_id


def owed(queue: RedisTaskQueue) -> list[str]:
    """The task ids whose notification is still owed (for tests and the dashboard)."""
    return sorted(_text(t) for t in queue.client.hkeys(outbox_key(queue.keys)))


def deliver_owed(queue: RedisTaskQueue) -> list[str]:
    """Queue the delivery of every owed notification whose task has finished; their task ids.

    A task still running or waiting for a retry keeps its entry (its worker will
    settle it); a task that no longer exists (expired, purged) is struck off. The
    outbox holds only tasks that have started and not been settled (a few per
    worker, plus retries waiting), so reading it whole on every sweep stays cheap.
    """
    key = outbox_key(queue.keys)
    task_ids = [_text(raw) for raw in queue.client.hkeys(key)]
    if not task_ids:
        return []
    pipe = queue.client.pipeline(transaction=False)
    for task_id in task_ids:
        pipe.hget(queue.keys.task(task_id), "status")
    settled = []
    for task_id, status in zip(task_ids, pipe.execute(), strict=True):
        if status is None:
            queue.client.hdel(key, task_id)
        elif _text(status) in FINAL:
            settle(queue, task_id, FINAL[_text(status)])
            settled.append(task_id)
    return settled


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
