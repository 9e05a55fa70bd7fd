"""Results flow back: the queue's event stream -> the task rows, with a fenced update.

Why the event stream and not the worker? The worker is session 5's, carried
forward unchanged: it knows Redis, not SQL, and teaching it a second store
would make every completion a dual write again (Redis said "completed", the
database did not hear it). The stream already records every step of every
task in order, each entry with an id that only grows; one follower reads it
and applies each event to the row of its task, and remembers how far it got
(``sync_state``), so a restart carries on where it stopped.

Events lost: the stream is capped (about 10,000 entries). A follower that fell
further behind than that would miss events, so after each read ``run_once``
looks whether the stream has been trimmed past its position; if so,
``reconcile`` sets every unfinished row (all of them, page by page) from its
task hash in Redis, fenced by the newest stream id read *before* the hashes:
any event that happens after it is newer and still applies.

Exactly once, from at least once: the follower may read an event twice (it
died after updating the row and before saving its position). The update is
fenced by the event's stream id (``TaskStore.apply_event``), so the second
delivery changes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import redis

from session5_recovery.workers import Event, RedisTaskQueue, Task

from .store import TaskStore, sortable_event_id
from .vocabulary import STATUS_OF_EVENT, TERMINAL_EVENTS

log = logging.getLogger(__name__)

# Rows per page of a reconciliation: one database query, then one pipelined read of
# their task hashes (one round trip to Redis, not one per row), then one transaction.
# Bounded, so that neither the reply nor the transaction grows with the table.
RECONCILE_CHUNK = 500


def changes_for(event: Event) -> dict[str, Any]:
    """The column values one event sets on its task's row (empty: nothing to record)."""
    changes: dict[str, Any] = {}
    status = STATUS_OF_EVENT.get(event.name)
    if status is not None:
        changes["status"] = status
    if event.name == "claimed":
        changes.update(started_at=event.ts, worker_id=event.worker_id, finished_at=None)
        if event.attempt is not None:
            changes["attempts"] = event.attempt
    elif event.name == "failed":
        changes["error"] = event.fields.get("error")
    elif event.name in TERMINAL_EVENTS:
        changes["finished_at"] = event.ts
        if event.name == "dead_lettered":
            changes["error"] = event.fields.get("reason") or event.fields.get("error")
    elif event.name in ("replayed", "requeued"):
        changes["finished_at"] = None
    return changes


class EventSync:
    """Follows ``queue``'s event stream and applies each task event to ``store``."""

    def __init__(self, store: TaskStore, queue: RedisTaskQueue, *, batch: int = 500,
                 on_event: Callable[[Event], None] | None = None) -> None:
        self.store = store
        self.queue = queue
        self.batch = batch
        self.on_event = on_event  # metrics count claims, completions, failures here
        self.name = f"events:{queue.queue_name}"
        self.applied = 0
        self.observed_up_to: str | None = None  # the newest event on_event has heard

    def run_once(self, block_ms: int | None = None) -> int:
        """Apply the events after the saved position; how many were read.

        ``block_ms``: wait that long for a new event when there is none (XREAD BLOCK).
        """
        position = self.store.position(self.name) or "0-0"
        events = self.queue.events(self.batch, after=position, block_ms=block_ms)
        # The gap is judged AFTER the read: a trim that lands between the two is then
        # seen (the oldest kept entry is past our position), never missed. A trim after
        # the read costs at most a needless reconciliation.
        gap = self.trimmed_past(position)
        self.apply(events)
        if events:
            self.store.set_position(self.name, events[-1].id)
        if gap:
            fence = self.reconcile()
            if not events:
                # Nothing kept to read (an emptied stream): carry on from the fence, so
                # the next pass does not see the same gap again. Otherwise the events
                # just read moved the position past the oldest kept entry already.
                self.store.set_position(self.name, fence)
        return len(events)

    def trimmed_past(self, position: str) -> bool:
        """True if events after ``position`` may have been trimmed before we read them.

        The stream keeps its newest entries; if even its first entry is newer than
        our position (or it is empty but has had newer entries), some may be gone.
        A false alarm only costs one reconciliation pass.
        """
        bounds = self.queue.event_bounds()
        if bounds is None:  # no stream yet: nothing was lost
            return False
        # The oldest entry still kept; for an emptied stream, the last one it ever had.
        oldest_kept, _ = bounds
        return sortable_event_id(oldest_kept) > sortable_event_id(position)

    def reconcile(self, page: int = RECONCILE_CHUNK) -> str:
        """Set every unfinished row from its task hash in Redis; returns the fence id used.

        Every unfinished row, page after page: any of them may have had its events
        trimmed away, however many there are. Each page's hashes are read in one
        pipeline: a round trip to Redis per ``page`` rows, not one per row.
        """
        # The newest id the stream ever gave out, read BEFORE the hashes: whatever
        # happens after this read gets a larger id, so its event still applies.
        bounds = self.queue.event_bounds()
        fence = bounds[1] if bounds else "0-0"
        changed, after = 0, None
        while True:
            rows = self.store.unfinished_ids(page, after=after)
            updates = []
            # Read after the fence id: each hash is as new as the fence, or newer.
            for task_id, task in self.read_tasks([task_id for _created, task_id in rows]):
                updates.append((task_id, fence, {
                    "status": str(task.status), "attempts": task.attempts, "error": task.error,
                    "worker_id": task.worker_id, "started_at": task.started_at,
                    "finished_at": task.finished_at}))
            changed += self.store.apply_events(updates) if updates else 0
            if len(rows) < page:
                break
            after = rows[-1]
        if changed:
            log.warning("event sync: the stream was trimmed past our position; %d rows set "
                        "from Redis", changed)
        return fence

    def read_tasks(self, task_ids: list[str]) -> list[tuple[str, Task]]:
        """(id, task) for each of ``task_ids`` Redis has a task hash for, in one pipeline.

        What ``get_task_info`` answers for one id, for many in one round trip: an id
        with no hash, or whose key holds something else (written by hand), is left out.
        """
        if not task_ids:
            return []
        pipe = self.queue.client.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hgetall(self.queue.keys.task(task_id))
        replies = pipe.execute(raise_on_error=False)  # a wrong type comes back as an error
        return [(task_id, Task.from_fields(fields))
                for task_id, fields in zip(task_ids, replies, strict=True)
                if fields and not isinstance(fields, redis.ResponseError)]

    def apply(self, events: list[Event]) -> int:
        """Apply events in one transaction; how many rows changed (an unknown task or an
        event a row has already seen changes nothing).

        ``on_event`` (the metrics) hears each event once: after the transaction
        committed, and only events newer than the last one it heard. A failed write
        (the database went down) is read again on the next pass, and must not be
        counted again: counting first made 200 completions look like 201.
        """
        updates = []
        for event in events:
            changes = changes_for(event)
            if event.task_id and changes:
                updates.append((event.task_id, event.id, changes))
        changed = self.store.apply_events(updates) if updates else 0
        self.applied += changed
        if self.on_event is not None:
            for event in events:
                if self.observed_up_to is None or \
                        sortable_event_id(event.id) > sortable_event_id(self.observed_up_to):
                    self.on_event(event)
                    self.observed_up_to = event.id
        return changed

    def run_forever(self, stop: threading.Event, block_ms: int = 500) -> None:
        while not stop.is_set():
            try:
                self.run_once(block_ms=block_ms)
            except (redis.RedisError, OSError):
                log.exception("event sync: Redis unavailable; retrying")
                stop.wait(1.0)
            except Exception:
                log.exception("event sync pass failed; retrying")
                stop.wait(1.0)

