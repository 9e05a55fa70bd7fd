"""What the live dashboard shows, computed from counts and the event stream, never from every id.

The page must stay fast with 100,000 completed tasks, so nothing here lists a
state's ids: a count is ``LLEN`` / ``ZCARD`` / ``SCARD`` (constant time, all in
one call of the queue's script), the DLQ shows its newest few, and the task
list is the database's keyset-paginated ``GET /tasks``.

Some things are in no key: a worker's PID, how many tasks each worker finished,
completions per second, which workers were lost. The event stream records them
(``worker_started`` has the PID, ``completed`` names the worker, ...), so an
``EventLedger`` reads the stream once, then only the entries after the last one
it saw, and keeps those few facts. The stream is capped (about 10,000
entries), so "tasks done" counts the completions the stream still held when
the ledger first read it, plus every one since.

The words of the event feed are session 5's timeline wording
(``tools.timeline.describe``), so the page, the monitor and the demos say the
same thing about the same event.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from session5_recovery.tools.timeline import describe
from session5_recovery.workers import Event, RedisTaskQueue, WorkerInfo

from .vocabulary import PRIORITIES, STATUS_OF_EVENT, STATUSES

FEED_LENGTH = 40  # events a freshly opened page starts its feed with
THROUGHPUT_SECONDS = 180  # the chart: completions per second over the last three minutes
DLQ_SHOWN = 20  # the newest dead-lettered tasks on the page (the count is the full count)
LOST_SHOWN = 10  # lost workers kept on the page after the reaper removed them
READ_CHUNK = 1000  # stream entries per XRANGE while catching up


def stream_ms(event_id: str) -> int:
    """The milliseconds part of a stream id: Redis's clock when the event was written."""
    return int(event_id.partition("-")[0])


def event_view(event: Event) -> dict[str, Any]:
    """An event as the page shows it: id, name, time, task, worker, the sentence, and the
    status it moves its task to (the same mapping the database follower applies); for a
    progress report, ``progress`` (see ``progress_of``)."""
    view = {"id": event.id, "event": event.name, "ts": event.ts, "ms": stream_ms(event.id),
            "task": event.task_id, "worker": event.worker_id, "text": describe(event),
            "status": STATUS_OF_EVENT.get(event.name)}
    progress = progress_of(event)
    if progress is not None:
        view["progress"] = progress
        view["text"] = progress_text(progress)
    return view


def progress_of(event: Event) -> dict[str, Any] | None:
    """How far a task or a workflow is, if the event says so; else None.

    The contract (any producer may write these events to the queue's stream; this
    session needs no code of theirs):

    - ``progress`` with ``task``, ``done``, ``total`` and an optional ``message``:
      a task reports how far it is (a bar per running task);
    - ``workflow_progress`` with ``workflow``, ``done``, ``total``: how many of a
      workflow's tasks have finished (a bar per workflow); ``workflow_completed``
      and ``workflow_failed`` with ``workflow`` end it.

    Fields that are not whole numbers with 0 <= done <= total make the event an
    ordinary one (shown in the feed, drawn as no bar).
    """
    fields = event.fields
    if event.name in ("workflow_completed", "workflow_failed") and fields.get("workflow"):
        return {"workflow": fields["workflow"][:100], "finished": event.name.split("_")[1],
                "reason": fields.get("reason", "")[:200]}
    if event.name not in ("progress", "workflow_progress"):
        return None
    counted = done_of_total(fields.get("done"), fields.get("total"))
    if counted is None:
        return None
    done, total = counted
    if event.name == "progress":
        return {"task": event.task_id, "done": done, "total": total,
                "message": fields.get("message", "")[:200]} if event.task_id else None
    workflow = fields.get("workflow")
    return {"workflow": workflow[:100], "done": done, "total": total} if workflow else None


def done_of_total(done: str | None, total: str | None) -> tuple[int, int] | None:
    """("3", "10") -> (3, 10); None unless both are ASCII whole numbers with done <= total
    (the stream is text anyone with access can write: nothing here may raise)."""
    if not (done and total and done.isascii() and done.isdigit()
            and total.isascii() and total.isdigit() and len(total) < 19):
        return None
    return (int(done), int(total)) if int(done) <= int(total) else None


def progress_text(progress: dict[str, Any]) -> str:
    """The feed's sentence for a progress event."""
    if "finished" in progress:
        reason = f": {progress['reason']}" if progress["reason"] else ""
        return f"workflow {progress['workflow']} {progress['finished']}{reason}"
    what = f"workflow {progress['workflow']}: " if "workflow" in progress else "progress "
    message = f" {progress['message']}" if progress.get("message") else ""
    return f"{what}{progress['done']}/{progress['total']}{message}"


@dataclass
class WorkerRecord:
    """What the stream told us about one worker."""

    pid: int | None = None
    done: int = 0
    lost_at: float | None = None
    tasks_at_loss: int = 0
    stopped: bool = False


class EventLedger:
    """Facts that only the event stream has, kept up to date by reading it incrementally.

    One per app, shared by every open page; ``refresh()`` is cheap when nothing
    happened (one ``XRANGE`` that returns nothing) and thread-safe.
    """

    def __init__(self, queue: RedisTaskQueue) -> None:
        self.queue = queue
        self.position = "0-0"
        self.workers: dict[str, WorkerRecord] = {}
        self.completions: Counter[int] = Counter()  # whole second -> completions in it
        self._lock = threading.Lock()

    def refresh(self) -> None:
        with self._lock:
            while True:
                events = self.queue.events(READ_CHUNK, after=self.position)
                for event in events:
                    self._learn(event)
                if not events:
                    break
                self.position = events[-1].id
                if len(events) < READ_CHUNK:
                    break
            horizon = int(time.time()) - THROUGHPUT_SECONDS
            for second in [s for s in self.completions if s < horizon]:
                del self.completions[second]

    def _learn(self, event: Event) -> None:
        worker = event.worker_id
        record = self.workers.setdefault(worker, WorkerRecord()) if worker else None
        if event.name == "worker_started" and record is not None:
            record.pid = int(event.fields["pid"]) if event.fields.get("pid", "").isdigit() else None
            record.lost_at, record.stopped = None, False
        elif event.name == "completed":
            if record is not None:
                record.done += 1
            self.completions[int(stream_ms(event.id) / 1000)] += 1
        elif event.name == "worker_lost" and record is not None:
            record.lost_at = event.ts
            record.tasks_at_loss = int(event.fields.get("tasks", 0) or 0)
        elif event.name == "worker_stopped" and record is not None:
            record.stopped = True

    def throughput(self, now: float | None = None) -> list[int]:
        """Completions in each of the last THROUGHPUT_SECONDS whole seconds, oldest first."""
        end = int(now if now is not None else time.time())
        with self._lock:
            return [self.completions.get(s, 0) for s in range(end - THROUGHPUT_SECONDS + 1, end + 1)]


def worker_views(registered: list[WorkerInfo], ledger: EventLedger,
                 heartbeat_ttl: float) -> list[dict[str, Any]]:
    """Registered workers (alive, or heartbeat expired), then the lost ones the reaper removed."""
    views, seen = [], set()
    for worker in registered:
        record = ledger.workers.get(worker.worker_id, WorkerRecord())
        views.append({
            "worker_id": worker.worker_id, "pid": record.pid, "done": record.done,
            "ttl": heartbeat_ttl, "ttl_left": worker.ttl_left, "last_seen": worker.last_seen,
            "in_flight": list(worker.in_flight),
            "heartbeat_age": None if worker.ttl_left is None
            else max(0.0, heartbeat_ttl - worker.ttl_left),
            "state": "alive" if worker.alive else "expired"})
        seen.add(worker.worker_id)
    lost = sorted(((wid, r) for wid, r in ledger.workers.items()
                   if r.lost_at is not None and wid not in seen),
                  key=lambda item: item[1].lost_at or 0, reverse=True)
    for worker_id, record in lost[:LOST_SHOWN]:
        views.append({"worker_id": worker_id, "pid": record.pid, "done": record.done,
                      "ttl": heartbeat_ttl, "ttl_left": None, "heartbeat_age": None,
                      "last_seen": record.lost_at, "in_flight": [], "state": "lost",
                      "tasks_at_loss": record.tasks_at_loss})
    return views


PROGRESS_FIELDS = ("progress_done", "progress_total", "progress_message", "progress_at")


def running_progress(queue: RedisTaskQueue, task_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The last progress report of each running task that made one, read from its record
    (the fields a ``progress`` event's producer also writes there), so a page opened
    half-way shows the bars at once. One pipelined read for the tasks workers hold."""
    if not task_ids:
        return {}
    pipe = queue.client.pipeline(transaction=False)
    for task_id in task_ids:
        pipe.hmget(queue.keys.task(task_id), *PROGRESS_FIELDS)
    found = {}
    for task_id, values in zip(task_ids, pipe.execute(), strict=True):
        done, total, message, at = (v.decode(errors="replace") if isinstance(v, bytes) else v
                                   for v in values)
        counted = done_of_total(done, total)
        if counted is not None:
            found[task_id] = {"done": counted[0], "total": counted[1],
                              "message": (message or "")[:200], "at": seconds(at)}
    return found


def seconds(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def dlq_views(queue: RedisTaskQueue) -> list[dict[str, Any]]:
    return [{"id": t.id, "type": t.type, "attempts": t.attempts, "reason": t.reason,
             "error": t.error, "finished_at": t.finished_at}
            for t in queue.dlq_tasks(DLQ_SHOWN)]


def dashboard_state(queue: RedisTaskQueue, ledger: EventLedger) -> dict[str, Any]:
    """Everything the main page draws, except the events themselves (they stream).

    ``get_stats`` is one Lua call that reads each state's count (``LLEN``,
    ``ZCARD``, ``SCARD``, one per registered worker): its cost does not grow
    with the number of tasks.
    """
    ledger.refresh()
    stats = queue.get_stats()
    counts = {name: stats[name] for name in (*STATUSES, "total")}
    workers = worker_views(queue.workers(), ledger, queue.settings.heartbeat_ttl)
    return {
        "counts": counts,
        "pending_by_priority": {p: stats[f"pending_{p}"] for p in PRIORITIES},
        "workers": workers,
        "progress": running_progress(queue, [t for w in workers for t in w["in_flight"]]),
        "dlq": dlq_views(queue), "paused": bool(stats["paused"]),
        "throughput": ledger.throughput(), "throughput_seconds": THROUGHPUT_SECONDS,
        "server_time": time.time(),
    }


class TaskHistory:
    """Which events belong on one task's page: its own, plus the loss of the worker that
    died holding it (one event at a time, so a live stream can use it too).

    The reaper writes ``requeued`` (or ``dead_lettered``) naming the dead worker
    before it writes ``worker_lost``; a worker that finished the task and died
    later is not shown: it did not take this task down with it.
    """

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.holder: str | None = None

    def accepts(self, event: Event) -> bool:
        if event.task_id == self.task_id:
            if event.name == "claimed":
                self.holder = event.worker_id
            elif event.name in ("completed", "failed", "completion_refused"):
                self.holder = None
            return True
        if event.name == "worker_lost" and self.holder and event.worker_id == self.holder:
            self.holder = None
            return True
        return False


def task_history(events: list[Event], task_id: str) -> list[Event]:
    history = TaskHistory(task_id)
    return [event for event in events if history.accepts(event)]
