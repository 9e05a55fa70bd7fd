"""A task as session 5 stores it: session 4's task plus what recovery needs.

Session 4's ``Task`` had four states. Recovery adds one, and gives "failed" a
sharper meaning::

    pending --claim--> processing --success--> completed
      ^  ^                |  |  |
      |  |                |  |  +--error, attempts left--> delayed --due--+
      |  +--worker lost---+  |                                            |
      |     or requeued      +--permanent error, or no attempts left--> failed (the DLQ)
      |                                                                   |
      +--------------------------------------------------------------------+
                      (delayed: when due)        (failed: only when a person replays it)

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
    COMPLETED = "completed"  # in {q}:completed; the result is in {q}:result:{id}
    FAILED = "failed"  # in {q}:dlq: dead-lettered, waiting for a person

    def __str__(self) -> str:
        return self.value


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
            result=result,
            error=fields.get("error") or None,
            reason=fields.get("reason") or None,
            history=history,
            replays=int(fields.get("replays", 0) or 0),
        )


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
