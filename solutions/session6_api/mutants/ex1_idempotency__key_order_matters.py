"""Mistake: the fingerprint serialises the body as it comes, so the same request with its keys in
another order looks like a different body.

Rejected by:
    test_ex1_idempotency.py::TestPart1_Fingerprint::test_key_order_and_spacing_do_not_change_the_fingerprint
    test_ex1_idempotency.py::TestPart2_CreateTask::test_same_key_and_body_give_the_same_task_once

Exercise 1: the idempotency key (same key and body: same task; another body: refused).

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

import hashlib
import json
import uuid
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
    """SHA-256 of the body in a canonical JSON form (sorted keys, no spaces)."""
    canonical = json.dumps(body)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- Part 2 -------------------------------------------------------------------


def find_by_key(conn: sa.Connection, table: sa.Table, key: str) -> tuple[str, str] | None:
    """(id, fingerprint) of the row with this key, or None."""
    row = conn.execute(sa.select(table.c.id, table.c.fingerprint)
                       .where(table.c.idempotency_key == key)).first()
    return (row.id, row.fingerprint) if row else None


def same_request(found: tuple[str, str], digest: str) -> str:
    """The existing id if the fingerprints match, else IdempotencyConflict."""
    task_id, existing = found
    if existing != digest:
        raise IdempotencyConflict("this Idempotency-Key was used with a different body")
    return task_id


def create_task(engine: sa.Engine, table: sa.Table, body: dict[str, Any],
                key: str | None = None) -> tuple[str, bool]:
    """(task id, created): a new row, or the row this key already made."""
    digest = fingerprint(body)
    if key is not None:
        with engine.connect() as conn:
            found = find_by_key(conn, table, key)
        if found is not None:
            return same_request(found, digest), False
    return insert_or_existing(engine, table, body, key, digest)


# --- Part 3 -------------------------------------------------------------------


def insert_or_existing(engine: sa.Engine, table: sa.Table, body: dict[str, Any],
                       key: str | None, digest: str) -> tuple[str, bool]:
    """INSERT a new row; if another request with ``key`` won the race, answer with its row."""
    task_id = uuid.uuid4().hex
    try:
        with engine.begin() as conn:
            conn.execute(table.insert().values(id=task_id, idempotency_key=key,
                                               fingerprint=digest, body=json.dumps(body)))
    except sa.exc.IntegrityError:
        if key is None:
            raise
        with engine.connect() as conn:
            found = find_by_key(conn, table, key)
        if found is None:
            raise
        return same_request(found, digest), False
    return task_id, True
