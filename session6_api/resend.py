"""Redis came back empty: the database re-sends what it accepted and did not see finish.

Session 5's queue notices a lost server by its *epoch* (``QueueEpoch``: a random
id the queue writes once; gone or different means the data was lost). Session 5
can only say so: Redis was its only copy. Here the database is the system of
record, so the API can do better: on the signal it

1. writes a new outbox row for every task that is not finished, with the same
   payload and the same id (``TaskStore.resend_unfinished``); the relay pushes
   them as it pushes any row, so ``GET /tasks/{id}`` keeps meaning the same task;
2. pauses the queue again if it was paused (a paused queue must not come back
   running by accident: the pause lived only in Redis, so the API remembers it);
3. says so: a warning in the log and ``data_lost`` in ``/dashboard/state``.

The epoch the API last saw is kept in the database too, so a loss that happened
while the API itself was stopped is noticed when it starts.

What a re-send cannot undo: a task that was running when Redis was lost may
have finished its work without the completion being recorded; it runs again
(at least once, as after any crash). Results already written are overwritten
with the same image.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from session5_recovery.workers import RedisTaskQueue
from session5_recovery.workers.epoch import QueueEpoch

from .store import TaskStore

log = logging.getLogger(__name__)
CHECK_EVERY = 1.0  # seconds between two looks at the epoch
API_NAME = "session6-api"  # who noticed, in the data_lost record


class DataLossRecovery:
    """Watches the queue's epoch; on a loss, re-sends unfinished rows and restores the pause."""

    def __init__(self, store: TaskStore, queue: RedisTaskQueue) -> None:
        self.store = store
        self.queue = queue
        self.epoch = QueueEpoch(queue, API_NAME)
        self.epoch_key = f"epoch:{queue.queue_name}"
        self.paused_key = f"paused:{queue.queue_name}"
        self.notice: dict[str, Any] | None = None  # the last loss handled, for the dashboard

    def remember_pause(self, paused: bool) -> None:
        """Called by the pause and resume routes: the database keeps the operator's choice."""
        self.store.set_position(self.paused_key, "1" if paused else "0")

    def run_once(self) -> int | None:
        """Look at the epoch; after a loss, how many rows were re-sent (None: no loss)."""
        if self.epoch.known is None:
            self.epoch.known = self.store.position(self.epoch_key)
        remembered = self.epoch.known
        verdict = self.epoch.check()
        if verdict in ("lost", "changed"):
            resent = self.store.resend_unfinished()
            paused = self.store.position(self.paused_key) == "1"
            if paused:
                self.queue.pause()
            self.notice = {"noticed_at": time.time(), "resent": resent, "paused_again": paused}
            log.warning("Redis lost the queue's data (its epoch %s is gone): re-sending %d "
                        "unfinished tasks from the database under their own ids%s",
                        remembered, resent, "; the queue is paused again" if paused else "")
        if self.epoch.known != remembered:
            # After the re-send rows are written: a crash in between re-sends again (the
            # relay skips what Redis already has), never forgets to.
            self.store.set_position(self.epoch_key, self.epoch.known or "")
        return self.notice["resent"] if verdict in ("lost", "changed") and self.notice else None

    def run_forever(self, stop: threading.Event, interval: float = CHECK_EVERY) -> None:
        while not stop.wait(interval):
            try:
                self.run_once()
            except Exception as error:  # Redis or the database down: look again later
                log.debug("data-loss check failed (%s); trying again", error)
