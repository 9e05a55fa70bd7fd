"""The outbox relay: database rows -> Redis, at least once, harmless when repeated.

The loop, one row at a time, oldest first:

1. read an outbox row that is not marked sent;
2. push its task to Redis with session 5's enqueue *under the task's own id*;
3. mark the row sent.

A relay killed between 2 and 3 pushes the same row again when it restarts.
That is the point of pushing under the id the database chose: the queue's
script refuses an id it already holds, so the second push is a no-op
("duplicate") and no task runs twice. A relay killed before 2 has pushed
nothing; the row is still unsent and goes out on the next pass. Nothing is
lost, nothing doubles; the price is that delivery is "at least once" and the
consumer side (here: the enqueue) must be idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from session5_recovery.workers import RedisTaskQueue

from .queue_ops import enqueue
from .store import OutboxRow, TaskStore

log = logging.getLogger(__name__)


@dataclass
class RelayCounts:
    pushed: int = 0  # rows whose task went into Redis now
    duplicates: int = 0  # rows whose task Redis already had (a repeat after a crash)


class OutboxRelay:
    """Moves unsent outbox rows of ``store`` into ``queue``; ``run_once`` does one pass."""

    def __init__(self, store: TaskStore, queue: RedisTaskQueue, *, batch: int = 100,
                 after_push: Callable[[OutboxRow], None] | None = None) -> None:
        self.store = store
        self.queue = queue
        self.batch = batch
        # A hook between step 2 and step 3, for the demo and the tests that kill
        # the relay exactly there.
        self.after_push = after_push
        self.counts = RelayCounts()

    def push(self, row: OutboxRow) -> bool:
        """Step 2 for one row: True if Redis got the task now, False if it already had it."""
        payload = row.payload
        return enqueue(self.queue, payload["data"], task_id=row.task_id,
                       priority=payload.get("priority", "normal"))

    def run_once(self) -> int:
        """One pass over the unsent rows; how many rows were handled (pushed or duplicate)."""
        return self.deliver(self.store.unsent(self.batch))

    def send_now(self, task_id: str) -> int:
        """Steps 2 and 3 at once for ``task_id``'s unsent rows, without waiting for the next pass.

        ``DELETE /tasks/{id}`` calls it: the cancel must be the queue's own atomic
        decision, so the task has to be in Redis first. Racing a pass of the
        background loop is harmless: the second push of the same id is a duplicate.
        """
        return self.deliver(self.store.unsent_for(task_id))

    def deliver(self, rows: list[OutboxRow]) -> int:
        """Push each row's task and mark the row sent, in order; how many rows were handled."""
        handled = 0
        for row in rows:
            if self.push(row):
                self.counts.pushed += 1
            else:
                self.counts.duplicates += 1
                log.info("outbox row %s: task %s was already in Redis (pushed before a crash)",
                         row.id, row.task_id)
            if self.after_push is not None:
                self.after_push(row)
            self.store.mark_sent(row.id)
            handled += 1
        return handled

    def run_forever(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Pass after pass until ``stop`` is set; a pass that fails is logged and retried."""
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # Redis or the database is down: keep the rows, try again
                log.exception("outbox relay pass failed; the rows stay unsent and are retried")
                busy = 0
            if not busy:
                stop.wait(interval)


def main() -> None:
    """``python -m session6_api.relay``: run only the relay (the demo kills it on purpose)."""
    import signal

    from .config import ApiConfig
    from .services import open_queue, open_store

    config = ApiConfig.from_env()
    store, queue = open_store(config), open_queue(config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"relay: outbox of {store.url.split('@')[-1]} -> Redis queue {queue.queue_name}",
          flush=True)
    try:
        OutboxRelay(store, queue).run_forever(stop)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
