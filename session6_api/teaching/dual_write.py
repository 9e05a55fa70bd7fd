"""The dual-write bug, and the outbox that fixes it, as functions a child process runs.

A producer that writes to two systems (the database and Redis) cannot make the
two writes one: there is no transaction that spans both. Kill it between the
steps and one system has the task while the other does not:

- ``naive_push_then_commit``: INSERT the row, LPUSH to Redis, COMMIT. Killed
  after the push, the database rolls the INSERT back: Redis holds a *ghost*
  task that no row describes (a worker runs it; ``GET /tasks/{id}`` says 404).
- ``naive_commit_then_push``: INSERT, COMMIT, then push. Killed after the
  commit, the row says "pending" forever: nothing will ever push it.
- ``outbox_producer``: INSERT the row and an outbox row in one transaction;
  that is all. Killed before the commit: nothing happened. After: the relay
  pushes it later (``relay.py``), and a relay killed after its push only pushes
  again, which the queue refuses (same id).

Each function runs in a child process and kills *itself* with SIGKILL at the
step named by ``die_after``: a real kill at an exact point, not a simulation.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from typing import Any

import sqlalchemy as sa

from ..config import ApiConfig
from ..queue_ops import enqueue
from ..relay import OutboxRelay
from ..services import open_queue, open_store
from ..store import fingerprint

STEPS = ("insert", "push", "commit")


def _die_if(step: str, die_after: str | None) -> None:
    if step == die_after:
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no rollback call, no goodbye


def _config(values: dict[str, Any]) -> ApiConfig:
    return ApiConfig(**values)


def _row_values(store: Any, task_id: str, request: dict[str, Any]) -> dict[str, Any]:
    now = store.clock()
    return dict(id=task_id, fingerprint=fingerprint(request), status="pending",
                priority=request["priority"], image=request["image"],
                filters=json.dumps(request["filters"]), attempts=0, created_at=now,
                updated_at=now)


def _request() -> tuple[dict[str, Any], dict[str, Any]]:
    request = {"image": "photo_grace_hopper.jpg", "filters": ["grayscale"], "priority": "normal"}
    return request, {"type": "noop"}


def naive_push_then_commit(config_values: dict[str, Any], task_id: str,
                           die_after: str | None = None) -> None:
    """INSERT, push to Redis, COMMIT: the order that leaves a ghost task in Redis."""
    config = _config(config_values)
    store, queue = open_store(config), open_queue(config)
    request, queue_task = _request()
    with store.engine.connect() as conn:
        transaction = conn.begin()
        conn.execute(store.tasks.insert().values(**_row_values(store, task_id, request)))
        _die_if("insert", die_after)
        enqueue(queue, queue_task, task_id=task_id)
        _die_if("push", die_after)
        transaction.commit()
        _die_if("commit", die_after)


def naive_commit_then_push(config_values: dict[str, Any], task_id: str,
                           die_after: str | None = None) -> None:
    """INSERT, COMMIT, push: the order that leaves a row nothing will ever process."""
    config = _config(config_values)
    store, queue = open_store(config), open_queue(config)
    request, queue_task = _request()
    with store.engine.begin() as conn:
        conn.execute(store.tasks.insert().values(**_row_values(store, task_id, request)))
        _die_if("insert", die_after)
    _die_if("commit", die_after)
    enqueue(queue, queue_task, task_id=task_id)
    _die_if("push", die_after)


def outbox_producer(config_values: dict[str, Any], task_id: str,
                    die_after: str | None = None) -> None:
    """The row and its outbox row in one transaction, then nothing: the relay pushes."""
    config = _config(config_values)
    store = open_store(config)
    request, queue_task = _request()
    with store.engine.connect() as conn:
        transaction = conn.begin()
        conn.execute(store.tasks.insert().values(**_row_values(store, task_id, request)))
        conn.execute(store.outbox.insert().values(
            task_id=task_id, created_at=store.clock(),
            payload=json.dumps({"data": queue_task, "priority": "normal"})))
        _die_if("insert", die_after)
        transaction.commit()
        _die_if("commit", die_after)


def relay_once(config_values: dict[str, Any], die_after: str | None = None) -> None:
    """One relay pass; with ``die_after="push"`` it dies after Redis has the task and
    before the outbox row is marked sent (the worst moment)."""
    config = _config(config_values)
    store, queue = open_store(config), open_queue(config)
    relay = OutboxRelay(store, queue, after_push=lambda row: _die_if("push", die_after))
    relay.run_once()


def where_is(config: ApiConfig, task_id: str) -> dict[str, Any]:
    """What each side knows about ``task_id``: the row's status, Redis's status, outbox state."""
    store, queue = open_store(config), open_queue(config)
    try:
        row = store.get(task_id)
        task = queue.get_task_info(task_id)
        with store.engine.connect() as conn:
            sent = conn.execute(sa.select(store.outbox.c.sent_at)
                                .where(store.outbox.c.task_id == task_id)).scalars().all()
        return {"database": row.status if row else None,
                "redis": str(task.status) if task else None,
                "outbox": ["sent" if s else "unsent" for s in sent]}
    finally:
        store.close()
        queue.close()


def config_values(config: ApiConfig) -> dict[str, Any]:
    """The plain values a child process needs to rebuild ``config`` (spawn-safe)."""
    return {"redis_url": config.redis_url, "database_url": config.database_url,
            "queue_name": config.queue_name, "data_dir": config.data_dir,
            "table_prefix": config.table_prefix, "background": False}


def new_task_id() -> str:
    return uuid.uuid4().hex
