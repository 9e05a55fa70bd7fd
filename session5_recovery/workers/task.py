"""A task as session 5 stores it: session 4's task plus what recovery needs.

Session 4's ``Task`` had four states, the last one called ``failed``. Recovery
adds delayed and cancelled, and calls the last state by what it is:
``dead_lettered`` (session 4's ``failed`` list is the same place, the DLQ).
``failed`` remains only the name of the *event* "an attempt raised"::

    pending --claim--> processing --success--> completed
      ^  ^  |             |  |  |
      |  |  |             |  |  +--error, attempts left--> delayed --due--+
      |  |  |             |  |                                            |
      |  +--+-------------+  +--permanent error, or no attempts left--> dead_lettered
      |     |  worker lost       (the DLQ)                                |
      |     |  or requeued                                                |
      |     +--cancel--> cancelled                                        |
      +--------------------------------------------------------------------+
                 (delayed: when due)     (dead_lettered: only when a person replays it)

``ALLOWED_TRANSITIONS`` is that picture as a table, and ``COMMAND_MOVES`` says
which moves each command of queue.lua makes; a test runs every command and
checks both against what really happened in Redis.

``attempts`` is counted at the claim, as in sessions 1 and 4: a worker that
dies mid-task has still used an attempt, so the reaper only has to compare
``attempts`` with ``max_attempts``. ``history`` keeps one entry per failed
attempt (error, worker, time), so a task in the DLQ tells its whole story.

The task lives in the hash ``{q}:task:{id}``; ``Task.from_fields`` reads it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class TaskStatus(str, Enum):
    """Where a task is. The same text is stored in its hash's ``status`` field."""

    PENDING = "pending"  # in {q}:pending, waiting for a worker
    PROCESSING = "processing"  # in one worker's {q}:processing:{worker_id}
    DELAYED = "delayed"  # in {q}:delayed, waiting for its retry time
    COMPLETED = "completed"  # in {q}:completed; the result is the hash's "result" field
    DEAD_LETTERED = "dead_lettered"  # in {q}:dlq, waiting for a person
    CANCELLED = "cancelled"  # in {q}:cancelled: taken out of the line before it ran

    def __str__(self) -> str:
        return self.value


# Which status may follow which (None: the task does not exist, before enqueue / after purge).
ALLOWED_TRANSITIONS: dict[TaskStatus | None, frozenset[TaskStatus | None]] = {
    None: frozenset({TaskStatus.PENDING}),
    TaskStatus.PENDING: frozenset({TaskStatus.PROCESSING, TaskStatus.CANCELLED}),
    TaskStatus.PROCESSING: frozenset({TaskStatus.COMPLETED, TaskStatus.DELAYED,
                                      TaskStatus.DEAD_LETTERED, TaskStatus.PENDING}),
    TaskStatus.DELAYED: frozenset({TaskStatus.PENDING}),
    TaskStatus.DEAD_LETTERED: frozenset({TaskStatus.PENDING, None}),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}

# The status moves each command of queue.lua makes (its "Status:" header line says the same).
_P, _R, _D = TaskStatus.PENDING, TaskStatus.PROCESSING, TaskStatus.DELAYED
COMMAND_MOVES: dict[str, frozenset[tuple[TaskStatus | None, TaskStatus | None]]] = {
    "enqueue": frozenset({(None, _P)}),
    "claim": frozenset({(_P, _R)}),
    "complete": frozenset({(_R, TaskStatus.COMPLETED)}),
    "fail": frozenset({(_R, _D), (_R, TaskStatus.DEAD_LETTERED)}),
    "requeue": frozenset({(_R, _P)}),
    "reap": frozenset({(_R, _P), (_R, TaskStatus.DEAD_LETTERED)}),
    "promote": frozenset({(_D, _P)}),
    "replay": frozenset({(TaskStatus.DEAD_LETTERED, _P)}),
    "cancel": frozenset({(_P, TaskStatus.CANCELLED)}),
    "purge": frozenset({(TaskStatus.DEAD_LETTERED, None)}),
}


def _float(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


@dataclass
class Task:
    """One task and its bookkeeping, as read from Redis (a snapshot, not a live view)."""

    data: dict[str, Any]
    id: str
    type: str = "image"
    status: TaskStatus = TaskStatus.PENDING
    attempts: int = 0  # attempts started so far (counted at the claim)
    max_attempts: int = 3
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    due_at: float | None = None  # when a delayed retry becomes pending again
    worker_id: str | None = None  # who has it, or had it last
    result: dict[str, Any] | None = None
    priority: str = "normal"  # "high", "normal" or "low"
    error: str | None = None  # the last error
    reason: str | None = None  # why it is in the DLQ
    history: list[dict[str, Any]] = field(default_factory=list)  # one entry per failed attempt
    replays: int = 0  # how often a person sent it back from the DLQ

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the status as its text)."""
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_fields(cls, fields: dict[str, str], result: dict[str, Any] | None = None) -> Task:
        """Build a task from its hash (decoded text fields); ValueError if it is not a task."""
        try:
            data = json.loads(fields["data"])
        except (KeyError, json.JSONDecodeError) as error:
            raise ValueError(f"the task hash has no readable 'data' field ({error})") from None
        count = int(fields.get("history", 0) or 0)
        history = []
        for n in range(1, count + 1):
            text = fields.get(f"error:{n}")
            if text is not None:
                try:
                    history.append(json.loads(text))
                except json.JSONDecodeError:
                    history.append({"error": text})
        return cls(
            data=data if isinstance(data, dict) else {"value": data},
            id=fields["id"],
            type=fields.get("type", "image"),
            status=TaskStatus(fields.get("status", "pending")),
            attempts=int(fields.get("attempts", 0) or 0),
            max_attempts=int(fields.get("max_attempts", 0) or 0),
            created_at=_float(fields.get("created_at")),
            started_at=_float(fields.get("started_at")),
            finished_at=_float(fields.get("finished_at")),
            due_at=_float(fields.get("due_at")),
            worker_id=fields.get("worker_id") or None,
            result=result if result is not None else decode_result(fields.get("result")),
            error=fields.get("error") or None,
            reason=fields.get("reason") or None,
            history=history,
            replays=int(fields.get("replays", 0) or 0),
            priority=fields.get("priority") or "normal",
        )


def decode_result(text: str | None) -> dict[str, Any] | None:
    """A stored result (one JSON field on the task hash); None if there is none."""
    if not text:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else {"value": value}


def as_json_object(value: Any, what: str = "task data") -> dict[str, Any]:
    """``value`` as it will look after a trip through JSON (a new copy), or a clear TypeError.

    Tasks are JSON so that any process, machine or language can read them;
    checking when the task is created turns "a worker choked on it an hour
    later" into an error for the caller who can fix it.
    """
    if not isinstance(value, dict):
        raise TypeError(
            f"{what} must be a dict (a JSON object), got {type(value).__name__}: {value!r:.80}. "
            f"Wrap the value in a dict, e.g. {{'value': ...}}")
    try:
        # allow_nan=False: NaN and Infinity are not JSON; other languages' parsers reject them.
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{what} must be JSON-serialisable ({error}). Use only dict, list, str, int, float, "
            f"bool and None: convert paths with str(path), sets with list(...)") from None
    return json.loads(text)
