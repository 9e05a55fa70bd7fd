"""A task, and the only moves its status may make.

A task is a small JSON document: what to do (``data``) plus the bookkeeping a
queue needs to answer "where is my work?": its status, how many attempts were
made, when it was created, started and finished, which worker has it, and the
result or the error.

The status moves along the arrows of a small state machine, and nowhere else::

    PENDING ---claim---> PROCESSING ---success---> COMPLETED
     ^  ^                   |    |
     |  +-----requeue-------+    +-----error-----> FAILED
     |                                               |
     +---------------------retry---------------------+

The rules live in one table (``ALLOWED_TRANSITIONS``) and are enforced in one
method (``Task.move_to``), so no code path can complete a task that nobody
claimed, or quietly send finished work round again.

Standard library only, and no imports from neighbouring modules: this file is
imported by sessions 3 and 4 wherever a task is needed.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any


class TaskStatus(str, Enum):
    """Where a task is in its life.

    A ``str`` subclass, so a status compares equal to its text
    (``TaskStatus.PENDING == "pending"``) and is stored and sent as plain text.
    """

    PENDING = "pending"  # waiting in the queue for a worker
    PROCESSING = "processing"  # claimed by a worker that is working on it
    COMPLETED = "completed"  # done; ``result`` holds the answer
    FAILED = "failed"  # the worker gave up; ``error`` says why

    def __str__(self) -> str:
        # The same text on every Python version: "pending", not "TaskStatus.PENDING".
        return self.value


# From each status, the statuses a task may move to next.
ALLOWED_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.PROCESSING}),  # a worker claims it
    TaskStatus.PROCESSING: frozenset({
        TaskStatus.COMPLETED,  # the work succeeded
        TaskStatus.FAILED,  # the work raised an error
        TaskStatus.PENDING,  # given back unfinished (its worker stopped or died): requeue
    }),
    TaskStatus.COMPLETED: frozenset(),  # final: finished work is never redone by accident
    TaskStatus.FAILED: frozenset({TaskStatus.PENDING}),  # retry
}


class InvalidTransitionError(ValueError):
    """A status change that ``ALLOWED_TRANSITIONS`` does not allow.

    The message says which move was refused and which moves are allowed. The
    parts are kept as attributes (``current``, ``requested``, ``task_id``,
    ``hint``) for code that wants to react to them.
    """

    def __init__(self, current: TaskStatus | str, requested: TaskStatus | str,
                 task_id: str | None = None, hint: str | None = None) -> None:
        # All parts go to ValueError, so the error can be copied (and pickled) like any other.
        super().__init__(current, requested, task_id, hint)
        self.current = TaskStatus(current)
        self.requested = TaskStatus(requested)
        self.task_id = task_id
        self.hint = hint

    def __str__(self) -> str:
        allowed = ALLOWED_TRANSITIONS[self.current]
        moves = ", ".join(s.value for s in TaskStatus if s in allowed) or "nothing, it is final"
        subject = f"task {self.task_id}" if self.task_id else "a task"
        message = (f"cannot move {subject} from {self.current.value} to {self.requested.value}; "
                   f"from {self.current.value} a task may move to: {moves}")
        return f"{message}. {self.hint}" if self.hint else message


def as_json_object(value: Any, what: str = "task data") -> dict[str, Any]:
    """Return ``value`` as it will look after a trip through JSON (a new, deep copy).

    Tasks are JSON so that any process, machine or language can read them. Checking
    here, when the task is created, turns "the worker crashed on it an hour later"
    into an error for the caller who can fix it. ``what`` names the value in messages.
    """
    if not isinstance(value, dict):
        raise TypeError(
            f"{what} must be a dict (a JSON object), got {type(value).__name__}: {value!r:.80}. "
            f"Wrap the value in a dict, e.g. {{'value': ...}}"
        )
    try:
        # allow_nan=False: NaN and Infinity are not JSON; other languages' parsers reject them.
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{what} must be JSON-serialisable ({error}). Use only dict, list, str, int, float, "
            f"bool and None: convert paths with str(path), sets with list(...), "
            f"datetimes with .isoformat()"
        ) from None
    return json.loads(text)


@dataclass
class Task:
    """One unit of work and its bookkeeping. Build it from a dict: ``Task({"n": 1})``."""

    data: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: TaskStatus = TaskStatus.PENDING
    attempts: int = 0  # incremented on each claim (PENDING -> PROCESSING)
    created_at: float | None = None
    started_at: float | None = None  # when the current or last attempt began
    finished_at: float | None = None  # when it completed or failed
    worker_id: str | None = None  # who has it (or had it, once finished)
    result: dict[str, Any] | None = None
    error: str | None = None  # why the last attempt failed

    def __post_init__(self) -> None:
        if not isinstance(self.data, dict):
            raise TypeError(
                f"task data must be a dict (a JSON object), got {type(self.data).__name__}: "
                f"{self.data!r:.80}. Wrap the value in a dict, e.g. {{'value': ...}}"
            )
        # Accept the plain text too ("pending"), as it comes back from JSON.
        self.status = TaskStatus(self.status)

    def move_to(self, status: TaskStatus, now: float) -> None:
        """Change the status to ``status`` at time ``now``, or refuse.

        Raises InvalidTransitionError (and changes nothing) if the state machine
        has no such arrow. Otherwise also keeps the bookkeeping true: a claim
        counts an attempt and stamps ``started_at``; finishing stamps
        ``finished_at``; going back to PENDING frees the task from its worker.
        Setting ``worker_id``, ``result`` and ``error`` is the caller's job.
        """
        new = TaskStatus(status)
        if new not in ALLOWED_TRANSITIONS[self.status]:
            raise InvalidTransitionError(self.status, new, self.id)
        if new is TaskStatus.PROCESSING:
            # Counted at the claim, not at the end: a worker that dies mid-task
            # still used up an attempt, and retry limits depend on that.
            self.attempts += 1
            self.started_at = now
            self.finished_at = None
        elif new is TaskStatus.PENDING:
            # Back in line for another attempt. ``error`` is kept, so anyone
            # looking can see why the task is being tried again.
            self.worker_id = None
            self.started_at = None
            self.finished_at = None
        else:  # COMPLETED or FAILED
            self.finished_at = now
        self.status = new

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready deep copy: plain dicts, lists and strings (the status as its text)."""
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        """Rebuild a task from ``to_dict()``'s output. Unknown fields are an error, not ignored."""
        if not isinstance(d, dict):
            raise TypeError(f"Task.from_dict needs a dict, got {type(d).__name__}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ValueError(f"unknown task field(s) {unknown}; a task has the fields {known}")
        if "data" not in d:
            raise ValueError(f"a task dict needs a 'data' field (the work to do); got the fields {sorted(d)}")
        return cls(**copy.deepcopy(d))

    def to_json(self) -> str:
        """The task as a JSON text (what a queue in another process would store)."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, s: str) -> Task:
        """Rebuild a task from ``to_json()``'s output."""
        return cls.from_dict(json.loads(s))
