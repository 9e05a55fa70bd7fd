"""Session 5's queue, with one addition: a task the reaper dead-letters gets its webhook.

A worker sends a task's webhook after recording its outcome (worker.py). A task whose
worker died is finished by somebody else: the reaper of another worker, which
dead-letters it once its attempts are used up. ``OperationsQueue.reap`` queues the
webhook of each task it dead-lettered, so that ending is notified too.
"""

from __future__ import annotations

from collections.abc import Sequence

from session5_recovery.workers import Recovery, RedisTaskQueue

from .webhooks import queue_delivery


class OperationsQueue(RedisTaskQueue):
    """A ``RedisTaskQueue`` whose reaper also notifies the ends it causes."""

    def reap(self, extra_workers: Sequence[str] = ()) -> list[Recovery]:
        recovered = super().reap(extra_workers)
        for recovery in recovered:
            if recovery.outcome == "dead_lettered":
                queue_delivery(self, recovery.task_id, "dead_lettered")
        return recovered
