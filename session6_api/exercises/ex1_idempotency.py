"""Exercise 1: the idempotency key (same key and body: same task; another body: refused).

A client that sends ``POST /tasks`` and loses the answer (a timeout, a dropped
connection) cannot know whether the task was created. With an
``Idempotency-Key`` header it can simply send the same request again: the
server recognises the key and answers with the task it already made, never a
second one. The same key with a *different* body is a client bug, refused
(``422`` in the API).

The table is given (``tasks_table``): ``id``, ``idempotency_key`` (UNIQUE),
``fingerprint`` and ``body``.

- Part 1: ``fingerprint(body)``: a hash of the body that does not depend on key
  order or spacing (``{"a": 1, "b": 2}`` and ``{"b":2,"a":1}`` are the same
  request), but does depend on every value.
- Part 2: ``create_task(engine, table, body, key)``: return ``(task_id,
  created)``. No key: always a new row. A key seen before with the same
  fingerprint: the old id and ``created=False``, nothing written. A key seen
  before with another fingerprint: raise ``IdempotencyConflict``, nothing written.
- Part 3: the race. Two requests with the same key can both look, find nothing,
  and both INSERT. The UNIQUE constraint lets exactly one in; the other gets
  ``sqlalchemy.exc.IntegrityError``. ``insert_or_existing`` turns that error
  into the answer of part 2 (the winner's id, or a conflict).

The session's real version is ``TaskStore.create_task`` in session6_api/store.py.
"""

from __future__ import annotations

import hashlib  # noqa: F401 (you will need it)
import json  # noqa: F401 (you will need it)
import uuid  # noqa: F401 (you will need it)
from typing import Any

import sqlalchemy as sa


class IdempotencyConflict(ValueError):
    """The key was used before with a different request body."""


def tasks_table(metadata: sa.MetaData, name: str = "ex1_tasks") -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), unique=True, nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )


# --- Part 1 -------------------------------------------------------------------


def fingerprint(body: dict[str, Any]) -> str:
    """SHA-256 hex digest of the body, the same whatever its key order or spacing."""
    # TODO (part 1): two bodies that mean the same request (keys in another order, other
    # spacing) get the same fingerprint; bodies that differ in any value, however deep,
    # get different ones. The result is a SHA-256 hex digest.
    raise NotImplementedError("Exercise 1, part 1: hash the body in a canonical form "
                              "(hint: make hint SESSION=6 EXERCISE=1)")


# --- Part 2 -------------------------------------------------------------------


def find_by_key(conn: sa.Connection, table: sa.Table, key: str) -> tuple[str, str] | None:
    """(id, fingerprint) of the row with this key, or None."""
    # TODO (part 2): what this key already made, if anything: its id and the fingerprint
    # of the body it was made with.
    raise NotImplementedError("Exercise 1, part 2: look the key up (hint: make hint SESSION=6 EXERCISE=1)")


def same_request(found: tuple[str, str], digest: str) -> str:
    """The existing id if the fingerprints match, else IdempotencyConflict."""
    # TODO (part 2): the same key with the same body is a repeat (answer with the task it
    # made); with another body it is a client bug, refused (the API turns it into a 422).
    raise NotImplementedError("Exercise 1, part 2: same key, same body? (hint: make hint SESSION=6 EXERCISE=1)")


def create_task(engine: sa.Engine, table: sa.Table, body: dict[str, Any],
                key: str | None = None) -> tuple[str, bool]:
    """(task id, created): a new row, or the row this key already made."""
    # TODO (part 2): a repeat writes nothing and gets the first task (created=False); a
    # conflict writes nothing and raises; no key, or a new key, makes a new task.
    raise NotImplementedError("Exercise 1, part 2: create or find the task (hint: make hint SESSION=6 EXERCISE=1)")


# --- Part 3 -------------------------------------------------------------------


def insert_or_existing(engine: sa.Engine, table: sa.Table, body: dict[str, Any],
                       key: str | None, digest: str) -> tuple[str, bool]:
    """INSERT a new row; if another request with ``key`` won the race, answer with its row."""
    # TODO (part 3): two requests with the same key and the same body must get the same
    # task, even when they race: both looked, both found nothing, both insert. The
    # database lets one in; the loser answers exactly as part 2 would have, had it looked
    # a moment later (the winner's task, or a conflict). Nothing else is swallowed.
    raise NotImplementedError("Exercise 1, part 3: survive the race on the unique key "
                              "(hint: make hint SESSION=6 EXERCISE=1)")
