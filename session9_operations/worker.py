"""Session 5's worker, with two things added at the edges of a task: the rate limit
before it starts and the webhook after it ends.

``OperationsWorker`` is a ``RedisWorker`` subclass that overrides only ``process``,
the public "run one claimed task" step:

- before: the claim-time check of ``RateLimiter.acquire_or_defer``. Over the limit,
  the task goes back to the delayed set, due when the window has room, and its
  attempt is given back (the worker returns "deferred" and claims the next one);
- after: if the task carried a ``webhook_url`` and its outcome is final (completed or
  dead-lettered), a delivery task is queued (webhooks.py). Its id is derived from the
  task's, so a second notification of the same ending is refused by the queue.
  Before the task runs, the notification is written down as owed (outbox.py): a
  worker killed between recording the outcome and queueing the delivery leaves the
  entry, and the next maintenance sweep of any worker queues the delivery.

One task per claim (``prefetch=1``): a prefetched batch is recorded at its end, so an
outcome seen in ``process`` may not be written yet, and a notification must follow
the write.
"""

from __future__ import annotations

from typing import Any

from session5_recovery.workers import RedisWorker, Task

from .outbox import owe_notification, settle
from .ratelimit import ADMITTED_AT, RateLimiter
from .webhooks import DELIVERY_TYPE, count_delivered


class OperationsWorker(RedisWorker):
    """A ``RedisWorker`` that honours the queue's rate limits and sends webhooks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("prefetch", 1) != 1:
            raise ValueError("OperationsWorker claims one task at a time (prefetch=1): a "
                             "webhook must follow the recorded outcome, and a prefetched "
                             "batch is recorded at its end")
        super().__init__(*args, **kwargs)
        self.limiter = RateLimiter(self.queue)
        self.deferred = 0  # tasks sent back to wait for a rate-limit slot

    def process(self, task: Task) -> str:
        verdict = self._retrying(lambda: self.limiter.acquire_or_defer(
            task.type, task.id, task.attempts, self.worker_id))
        if verdict.outcome == "deferred":
            self.queue.forget_claim(task.id)
            self.deferred += 1
            self._say(f"rate limit of {task.type!r} reached: {task.id[:8]} waits until "
                      f"{verdict.at:.2f} (attempt not counted)")
            return "deferred"
        if verdict.outcome == "not_mine":
            self.queue.forget_claim(task.id)
            return "refused"
        notify = bool(task.data.get("webhook_url"))
        if notify:
            self._retrying(lambda: owe_notification(self.queue, [task.id]))
        admitted = ADMITTED_AT.set(verdict.at if verdict.outcome == "allowed" else None)
        try:
            outcome = super().process(task)
        finally:
            ADMITTED_AT.reset(admitted)
        if notify and outcome in ("completed", "dead_lettered"):
            self.notify(task, outcome)
        if task.type == DELIVERY_TYPE and outcome == "completed":
            self._retrying(lambda: count_delivered(self.queue))
        return outcome

    def notify(self, task: Task, outcome: str) -> None:
        """Queue the webhook of ``task``'s recorded final ``outcome`` and settle its outbox entry.

        A step of its own so that a test can stand in for a kill at exactly this point.
        """
        self._retrying(lambda: settle(self.queue, task.id, outcome))
