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

A task added with ``run_at`` or ``delay`` starts in delayed (none -> delayed) and
takes the same "due" arrow to pending.

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
    DELAYED = "delayed"  # in {q}:delayed, waiting for its retry time (or its run_at)
    COMPLETED = "completed"  # in {q}:completed; the result is the hash's "result" field
    DEAD_LETTERED = "dead_lettered"  # in {q}:dlq, waiting for a person
    CANCELLED = "cancelled"  # in {q}:cancelled: taken out of the line before it ran

    def __str__(self) -> str:
        return self.value


# Which status may follow which (None: the task does not exist, before enqueue / after purge).
ALLOWED_TRANSITIONS: dict[TaskStatus | None, frozenset[TaskStatus | None]] = {
    # None -> delayed: added with run_at/delay, it waits for its time like a retry
    None: frozenset({TaskStatus.PENDING, TaskStatus.DELAYED}),
    # pending -> dead_lettered: the claim found a record it cannot run (edited by hand)
    TaskStatus.PENDING: frozenset({TaskStatus.PROCESSING, TaskStatus.CANCELLED,
                                   TaskStatus.DEAD_LETTERED}),
    TaskStatus.PROCESSING: frozenset({TaskStatus.COMPLETED, TaskStatus.DELAYED,
                                      TaskStatus.DEAD_LETTERED, TaskStatus.PENDING}),
    TaskStatus.DELAYED: frozenset({TaskStatus.PENDING}),
    # -> None: purged, or forgotten by retention (result_ttl, failure_ttl: "expire")
    TaskStatus.DEAD_LETTERED: frozenset({TaskStatus.PENDING, None}),
    TaskStatus.COMPLETED: frozenset({None}),
    TaskStatus.CANCELLED: frozenset(),
}

# The status moves each command of queue.lua makes (its "Status:" header line says the same).
_P, _R, _D = TaskStatus.PENDING, TaskStatus.PROCESSING, TaskStatus.DELAYED
COMMAND_MOVES: dict[str, frozenset[tuple[TaskStatus | None, TaskStatus | None]]] = {
    "enqueue": frozenset({(None, _P), (None, _D)}),
    "claim": frozenset({(_P, _R), (_P, TaskStatus.DEAD_LETTERED)}),
    "complete": frozenset({(_R, TaskStatus.COMPLETED)}),
    "complete_batch": frozenset({(_R, TaskStatus.COMPLETED)}),
    "complete_and_claim": frozenset({(_R, TaskStatus.COMPLETED), (_P, _R),
                                     (_P, TaskStatus.DEAD_LETTERED)}),
    "complete_batch_and_claim": frozenset({(_R, TaskStatus.COMPLETED), (_P, _R),
                                           (_P, TaskStatus.DEAD_LETTERED)}),
    "fail": frozenset({(_R, _D), (_R, TaskStatus.DEAD_LETTERED)}),
    "requeue": frozenset({(_R, _P)}),
    "reap": frozenset({(_R, _P), (_R, TaskStatus.DEAD_LETTERED)}),
    "promote": frozenset({(_D, _P)}),
    "replay": frozenset({(TaskStatus.DEAD_LETTERED, _P)}),
    "cancel": frozenset({(_P, TaskStatus.CANCELLED)}),
    "purge": frozenset({(TaskStatus.DEAD_LETTERED, None)}),
    "expire": frozenset({(TaskStatus.COMPLETED, None), (TaskStatus.DEAD_LETTERED, None)}),
}


def _whole(fields: dict[str, str], name: str) -> int:
    """A counter field as an int (0 if absent); ValueError naming the field if it is not one."""
    value = fields.get(name) or "0"
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"malformed task record: field {name!r} is {value[:40]!r}, "
                         f"not a whole number") from None


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
    due_at: float | None = None  # when a delayed task (a retry, a run_at) becomes pending
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
            data = parse_json_text(fields["data"], "the task's data")
        except (KeyError, ValueError) as error:
            raise ValueError(f"the task hash has no readable 'data' field ({error})") from None
        count = _whole(fields, "history")
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
            attempts=_whole(fields, "attempts"),
            max_attempts=_whole(fields, "max_attempts"),
            created_at=_float(fields.get("created_at")),
            started_at=_float(fields.get("started_at")),
            finished_at=_float(fields.get("finished_at")),
            due_at=_float(fields.get("due_at")),
            worker_id=fields.get("worker_id") or None,
            result=result if result is not None else decode_result(fields.get("result")),
            error=fields.get("error") or None,
            reason=fields.get("reason") or None,
            history=history,
            replays=_whole(fields, "replays"),
            priority=fields.get("priority") or "normal",
        )


# How deeply a task's JSON may nest. Real tasks need a handful of levels; Python's
# json module dies of RecursionError near 1,000 and Redis's Lua cjson refuses
# deeper than 1,000, so a limit well below both gives a clear error instead.
MAX_NESTING = 100


def nesting_depth(value: Any, limit: int = MAX_NESTING) -> int:
    """How many dicts/lists deep ``value`` goes, counting without recursion (stops past ``limit``)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def text_nesting_depth(text: str, limit: int = MAX_NESTING) -> int:
    """The nesting depth of JSON ``text`` before parsing it (brackets outside strings)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json_text(text: str, what: str) -> Any:
    """``json.loads(text)``, with a ValueError naming ``what`` when it nests too deep.

    Without the check, a document nested 10,000 deep ends in a bare RecursionError.
    """
    # Nesting needs an opening bracket per level: a text with few of them (every real
    # task) is not scanned character by character.
    if text.count("[") + text.count("{") > MAX_NESTING and text_nesting_depth(text) > MAX_NESTING:
        raise ValueError(f"{what} is nested more than {MAX_NESTING} levels deep; a task is a "
                         f"flat, small JSON object (put big structures in a file)")
    return json.loads(text)


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
    if nesting_depth(value) > MAX_NESTING:
        raise TypeError(f"{what} is nested more than {MAX_NESTING} levels deep; a task is a "
                        f"flat, small JSON object (put big structures in a file)")
    try:
        # allow_nan=False: NaN and Infinity are not JSON; other languages' parsers reject them.
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{what} must be JSON-serialisable ({error}). Use only dict, list, str, int, float, "
            f"bool and None: convert paths with str(path), sets with list(...)") from None
    return json.loads(text)
