"""Turn the event stream into lines a person can read.

Every state change the Lua script makes also appends an event to
``{q}:events`` (XADD, capped with MAXLEN ~). That log answers the questions
counts cannot: *which* worker died, *when* its task came back, *how long* the
backoff was. The demos print it as a timeline; the monitor shows the last few.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..workers.redis_task_queue import Event

# Rich colours per event, used by the monitor and the demos.
STYLES = {
    "enqueued": "dim", "claimed": "cyan", "completed": "green", "failed": "yellow",
    "retry_scheduled": "yellow", "requeued": "magenta", "dead_lettered": "bold red",
    "worker_started": "blue", "worker_stopping": "blue", "worker_stopped": "blue",
    "worker_lost": "bold red", "completion_refused": "bold magenta", "dlq_purged": "red",
    "replayed": "magenta", "cancelled": "dim", "paused": "bold yellow", "resumed": "bold yellow",
}


def describe(event: Event) -> str:
    """One event as a short sentence (without time or task id)."""
    f = event.fields
    worker, attempt = f.get("worker", "?"), f.get("attempt", "?")
    name = event.name
    if name == "enqueued":
        priority = f.get("priority", "normal")
        extra = "" if priority == "normal" else f", {priority} priority"
        if "due" in f:
            extra += f", due in {float(f['due']) - event.ts:.2f} s"
        return f"enqueued ({f.get('type', 'image')}{extra})"
    if name == "claimed":
        return f"claimed by {worker} (attempt {attempt})"
    if name == "completed":
        return f"completed by {worker} (attempt {attempt})"
    if name == "failed":
        return f"attempt {attempt} failed on {worker}: {f.get('error', '')}"
    if name == "retry_scheduled":
        return f"retry scheduled in {float(f.get('delay', 0)):.2f} s (backoff after attempt {attempt})"
    if name == "requeued":
        return f"requeued: {f.get('reason', '')}"
    if name == "dead_lettered":
        return f"DEAD-LETTERED: {f.get('reason', '')}"
    if name == "completion_refused":
        return f"completion by {worker} REFUSED: no longer its task"
    if name == "worker_lost":
        tasks = int(f.get("tasks", 0))
        return f"{worker} LOST (heartbeat expired; {tasks} task{'s' * (tasks != 1)} in flight)"
    if name == "worker_started":
        return f"{worker} started (pid {f.get('pid', '?')})"
    if name == "worker_stopping":
        return f"{worker} got a stop signal: finishing its task"
    if name == "worker_stopped":
        return f"{worker} stopped"
    if name == "replayed":
        return "replayed from the DLQ (fresh attempts)"
    if name == "cancelled":
        return "cancelled before it ran"
    if name in ("paused", "resumed"):
        return f"queue {name}"
    if name == "claim_refused":
        return f"claim by {worker} REFUSED: {f.get('reason', 'already finished')}"
    if name == "data_lost":
        return f"DATA LOST: {worker} found the queue's epoch gone (the server lost its data)"
    if name == "dlq_purged":
        return f"DLQ purged ({f.get('tasks', '?')} tasks deleted)"
    return f"{name} {f}"


def format_event(event: Event, start: float | None = None, *, labels: dict[str, str] | None = None
                 ) -> str:
    """``+1.23 s  task 1a2b3c4d  claimed by w1 (attempt 1)``; ``labels`` names tasks."""
    when = f"+{event.ts - start:6.2f} s" if start is not None else f"{event.ts:.2f}"
    task = event.task_id
    who = ""
    if task:
        who = (labels or {}).get(task) or f"task {task[:8]}"
    return f"{when}  {who:<18} {describe(event)}"


def format_timeline(events: Iterable[Event], *, labels: dict[str, str] | None = None,
                    only: set[str] | None = None) -> list[str]:
    """The events as lines, times relative to the first line shown.

    With ``only`` (a set of task ids): those tasks' events, plus the loss of any
    worker that had claimed one of them.
    """
    events = list(events)
    if only is not None:
        involved = {e.worker_id for e in events if e.task_id in only and e.name == "claimed"}
        events = [e for e in events if e.task_id in only
                  or (e.name == "worker_lost" and e.worker_id in involved)]
    if not events:
        return []
    start = events[0].ts
    return [format_event(e, start, labels=labels) for e in events]
