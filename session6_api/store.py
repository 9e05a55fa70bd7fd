"""The database side: two tables and the only code that writes them (SQLAlchemy 2.0 Core).

- ``tasks``: one row per accepted request: what was asked (image, filters,
  priority), the idempotency key and a fingerprint of the body, and what
  happened (status, attempts, error, worker, timestamps). The row is the API's
  answer to ``GET /tasks/{id}``: the database is the system of record.
- ``outbox``: one row per task still to hand to Redis. ``create_task`` writes
  the task row and its outbox row in ONE transaction, so either both exist or
  neither: there is no moment where the database says "accepted" and nothing
  will ever push it (the dual-write bug; see demos/demo_dual_write.py).
- ``sync_state``: how far the event follower has read the queue's event stream.

Updates from the event stream are *fenced* by the stream id: a row remembers
the id of the last event applied to it and ignores any event that is not newer.
Event ids only grow, so a duplicate delivery (the follower restarted and read
an event twice) or a late one changes nothing.

One code path for SQLite (the default, a file under ``output/``) and
PostgreSQL (``postgresql+psycopg://...``). Times are stored as epoch seconds
(floats): the same on both databases, no time-zone surprises.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .vocabulary import STATUSES, TERMINAL

# How long an idempotency key is remembered; after that the same key makes a new task.
IDEMPOTENCY_KEY_TTL = 24 * 3600.0


class IdempotencyConflict(ValueError):
    """The idempotency key was used before with a different request body."""


def fingerprint(request: dict[str, Any]) -> str:
    """A hash of the request body in a canonical form (key order and spacing do not matter)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def sortable_event_id(stream_id: str) -> str:
    """A Redis stream id ("1718000000000-5") as text that sorts like the id does.

    ``"999-0" > "1000-0"`` as text, so the two numbers are zero-padded: then
    text order is time order, and the fence is a plain ``<`` in SQL.
    """
    ms, _, seq = stream_id.partition("-")
    return f"{int(ms):015d}-{int(seq or 0):010d}"


@dataclass(frozen=True)
class TaskRow:
    """One row of ``tasks``, as the API reports it."""

    id: str
    status: str
    priority: str
    image: str
    filters: list[str]
    attempts: int
    error: str | None
    worker_id: str | None
    result_path: str | None
    idempotency_key: str | None
    fingerprint: str
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class OutboxRow:
    id: int
    task_id: str
    payload: dict[str, Any]  # {"data": the queue task, "priority": ...}


class TaskStore:
    """The tables on one database; ``prefix`` keeps parallel test runs apart on one server."""

    def __init__(self, url: str, *, prefix: str = "", clock: Callable[[], float] = time.time,
                 engine: Engine | None = None, timeout: float | None = None) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.clock = clock
        self.engine = engine or sa.create_engine(url, **_engine_options(url, timeout))
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.metadata = sa.MetaData()
        self.tasks = sa.Table(
            f"{prefix}tasks", self.metadata,
            sa.Column("id", sa.String(32), primary_key=True),
            # Unique: the database itself refuses a second task for one key, even when
            # two requests with that key arrive at the same instant.
            sa.Column("idempotency_key", sa.String(255), unique=True, nullable=True),
            sa.Column("fingerprint", sa.String(64), nullable=False),
            sa.Column("status", sa.String(20), nullable=False),
            sa.Column("priority", sa.String(10), nullable=False),
            sa.Column("image", sa.String(255), nullable=False),
            sa.Column("filters", sa.Text, nullable=False),  # JSON list of specs
            sa.Column("attempts", sa.Integer, nullable=False, default=0),
            sa.Column("error", sa.Text, nullable=True),
            sa.Column("worker_id", sa.String(200), nullable=True),
            sa.Column("result_path", sa.String(500), nullable=True),
            sa.Column("last_event", sa.String(32), nullable=True),  # the fence
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("updated_at", sa.Float, nullable=False),
            sa.Column("started_at", sa.Float, nullable=True),
            sa.Column("finished_at", sa.Float, nullable=True),
            sa.Index(f"{prefix}tasks_by_time", "created_at", "id"),
            sa.Index(f"{prefix}tasks_by_status", "status", "created_at", "id"),
        )
        self.outbox = sa.Table(
            f"{prefix}outbox", self.metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("task_id", sa.String(32), nullable=False),
            sa.Column("payload", sa.Text, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("sent_at", sa.Float, nullable=True),
            sa.Index(f"{prefix}outbox_unsent", "sent_at", "id"),
        )
        self.sync_state = sa.Table(
            f"{prefix}sync_state", self.metadata,
            sa.Column("name", sa.String(100), primary_key=True),
            sa.Column("position", sa.String(40), nullable=False),
        )

    # --- schema -------------------------------------------------------------

    def create_schema(self) -> None:
        """Create the tables if they are missing (a real service would use migrations)."""
        self.metadata.create_all(self.engine)

    def drop_schema(self) -> None:
        self.metadata.drop_all(self.engine)

    def ping(self) -> bool:
        """True if the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def close(self) -> None:
        self.engine.dispose()

    # --- accepting a request ---------------------------------------------------

    def create_task(self, task_id: str, request: dict[str, Any], queue_task: dict[str, Any], *,
                    idempotency_key: str | None = None,
                    result_path: str | None = None) -> tuple[TaskRow, bool]:
        """Record a new task and its outbox row in one transaction; (row, created).

        ``request`` is the client's body (image, filters, priority); ``queue_task``
        is what the relay will push to Redis. With an ``idempotency_key`` already
        used for the same body, nothing is written and the existing row comes back
        with ``created=False``; for a different body, ``IdempotencyConflict``.
        """
        digest = fingerprint(request)
        if idempotency_key is not None:
            self.forget_idempotency_keys()
            existing = self._by_key(idempotency_key)
            if existing is not None:
                return self._same_request(existing, digest), False
        now = self.clock()
        try:
            with self.engine.begin() as conn:  # one transaction: both rows or neither
                conn.execute(self.tasks.insert().values(
                    id=task_id, idempotency_key=idempotency_key, fingerprint=digest,
                    status="pending", priority=request["priority"], image=request["image"],
                    filters=json.dumps(request["filters"]), attempts=0,
                    result_path=result_path, created_at=now, updated_at=now))
                conn.execute(self.outbox.insert().values(
                    task_id=task_id, created_at=now,
                    payload=json.dumps({"data": queue_task, "priority": request["priority"]})))
        except sa.exc.IntegrityError:
            # Two requests with one key raced; the database let exactly one in.
            existing = self._by_key(idempotency_key) if idempotency_key else None
            if existing is None:
                raise
            return self._same_request(existing, digest), False
        row = self.get(task_id)
        assert row is not None
        return row, True

    @staticmethod
    def _same_request(existing: TaskRow, digest: str) -> TaskRow:
        if existing.fingerprint != digest:
            raise IdempotencyConflict(
                "this Idempotency-Key was already used with a different request body; send the "
                "same body to get the same task, or use a new key for a new task")
        return existing

    def _by_key(self, key: str) -> TaskRow | None:
        with self.engine.connect() as conn:
            found = conn.execute(self.tasks.select().where(
                self.tasks.c.idempotency_key == key)).mappings().first()
        return _row(found) if found else None

    def forget_idempotency_keys(self, older_than: float = IDEMPOTENCY_KEY_TTL) -> int:
        """Release keys older than ``older_than`` seconds (the task rows stay); how many."""
        cutoff = self.clock() - older_than
        with self.engine.begin() as conn:
            return conn.execute(self.tasks.update().where(
                self.tasks.c.idempotency_key.is_not(None),
                self.tasks.c.created_at < cutoff).values(idempotency_key=None)).rowcount

    # --- reading -------------------------------------------------------------------

    def get(self, task_id: str) -> TaskRow | None:
        with self.engine.connect() as conn:
            found = conn.execute(self.tasks.select().where(
                self.tasks.c.id == task_id)).mappings().first()
        return _row(found) if found else None

    def page(self, *, status: str | None = None, limit: int = 50,
             cursor: str | None = None) -> tuple[list[TaskRow], str | None]:
        """A page of tasks, newest first, and the cursor of the next page (None: last page).

        Keyset pagination: the cursor is the (created_at, id) of the last row shown,
        so a page costs the same however deep it is and never loads every id.
        """
        t = self.tasks
        query = t.select().order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit + 1)
        if status is not None:
            query = query.where(t.c.status == status)
        if cursor is not None:
            created, last_id = decode_cursor(cursor)
            query = query.where(sa.or_(t.c.created_at < created,
                                       sa.and_(t.c.created_at == created, t.c.id < last_id)))
        with self.engine.connect() as conn:
            rows = [_row(r) for r in conn.execute(query).mappings()]
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (encode_cursor(rows[-1]) if more and rows else None)

    def counts(self) -> dict[str, int]:
        """How many rows in each status (every status present, 0 if none)."""
        with self.engine.connect() as conn:
            found = dict(conn.execute(sa.select(self.tasks.c.status, sa.func.count())
                                      .group_by(self.tasks.c.status)).all())
        return {status: int(found.get(status, 0)) for status in STATUSES}

    # --- the outbox ------------------------------------------------------------------

    def unsent(self, limit: int = 100) -> list[OutboxRow]:
        """Outbox rows not yet marked sent, oldest first."""
        o = self.outbox
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(o.c.id, o.c.task_id, o.c.payload)
                                .where(o.c.sent_at.is_(None)).order_by(o.c.id).limit(limit)).all()
        return [OutboxRow(r.id, r.task_id, json.loads(r.payload)) for r in rows]

    def unsent_for(self, task_id: str) -> list[OutboxRow]:
        """The unsent outbox rows of one task, oldest first (a cancel sends them first)."""
        o = self.outbox
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(o.c.id, o.c.task_id, o.c.payload).where(
                o.c.sent_at.is_(None), o.c.task_id == task_id).order_by(o.c.id)).all()
        return [OutboxRow(r.id, r.task_id, json.loads(r.payload)) for r in rows]

    def mark_sent(self, outbox_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.outbox.update().where(self.outbox.c.id == outbox_id)
                         .values(sent_at=self.clock()))

    def unsent_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self.outbox)
                                    .where(self.outbox.c.sent_at.is_(None))).scalar_one())

    # --- results flowing back ------------------------------------------------------------

    def apply_event(self, task_id: str, event_id: str, **changes: Any) -> bool:
        """Apply ``changes`` to the task if ``event_id`` is newer than its last event.

        The fence: ``WHERE last_event IS NULL OR last_event < :event``. True if the
        row changed; False for an unknown task or an event already applied (or older).
        """
        return self.apply_events([(task_id, event_id, changes)]) == 1

    def apply_events(self, updates: list[tuple[str, str, dict[str, Any]]]) -> int:
        """``apply_event`` for many (task id, event id, changes) in one transaction;
        how many rows changed."""
        t = self.tasks
        changed = 0
        with self.engine.begin() as conn:
            for task_id, event_id, changes in updates:
                fence = sortable_event_id(event_id)
                changed += conn.execute(
                    t.update().where(t.c.id == task_id,
                                     sa.or_(t.c.last_event.is_(None), t.c.last_event < fence))
                    .values(last_event=fence, updated_at=self.clock(), **changes)).rowcount
        return changed

    def unfinished_ids(self, limit: int = 1000, *,
                       after: tuple[float, str] | None = None) -> list[tuple[float, str]]:
        """(created_at, id) of rows not in a terminal status, oldest first, after ``after``.

        Keyset paging, so a reconciliation can walk every unfinished row once even
        when some stay unfinished (still processing) and would come first again.
        """
        t = self.tasks
        query = (sa.select(t.c.created_at, t.c.id).where(t.c.status.not_in(TERMINAL))
                 .order_by(t.c.created_at, t.c.id).limit(limit))
        if after is not None:
            query = query.where(sa.or_(t.c.created_at > after[0],
                                       sa.and_(t.c.created_at == after[0], t.c.id > after[1])))
        with self.engine.connect() as conn:
            return [(float(r.created_at), r.id) for r in conn.execute(query)]

    def resend_unfinished(self) -> int:
        """A new outbox row for every unfinished task (its latest payload, the same id); how many.

        After Redis lost its data, the database still knows what was accepted and
        not finished: the relay pushes these again, under the ids the tasks already
        have, so a client following ``/tasks/{id}`` sees its task go on.
        """
        t, o = self.tasks, self.outbox
        latest = (sa.select(o.c.task_id, sa.func.max(o.c.id).label("last"))
                  .group_by(o.c.task_id).subquery())
        now = self.clock()
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(o.c.task_id, o.c.payload)
                .join(latest, o.c.id == latest.c.last)
                .join(t, t.c.id == o.c.task_id)
                .where(t.c.status.not_in(TERMINAL))).all()
            if rows:
                conn.execute(o.insert(), [{"task_id": r.task_id, "payload": r.payload,
                                           "created_at": now} for r in rows])
        return len(rows)

    # --- retention ------------------------------------------------------------------------

    def prune_outbox(self) -> int:
        """Delete the sent outbox rows of finished tasks; how many.

        A sent row has done its job. The rows of unfinished tasks stay: they are
        what ``resend_unfinished`` pushes again if Redis loses its data.
        """
        t, o = self.tasks, self.outbox
        finished = sa.select(t.c.id).where(t.c.status.in_(TERMINAL))
        with self.engine.begin() as conn:
            return conn.execute(o.delete().where(o.c.sent_at.is_not(None),
                                                 o.c.task_id.in_(finished))).rowcount

    def delete_finished(self, older_than: float) -> list[TaskRow]:
        """Delete finished tasks created more than ``older_than`` seconds ago (and their
        outbox rows); the rows deleted, so the caller can remove their files."""
        t, o = self.tasks, self.outbox
        cutoff = self.clock() - older_than
        with self.engine.begin() as conn:
            old = [_row(r) for r in conn.execute(t.select().where(
                t.c.status.in_(TERMINAL), t.c.created_at < cutoff)).mappings()]
            ids = [row.id for row in old]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                conn.execute(o.delete().where(o.c.task_id.in_(chunk)))
                conn.execute(t.delete().where(t.c.id.in_(chunk)))
        return old

    def images_in_use(self, names: list[str]) -> set[str]:
        """Which of these image names some task (any status) refers to."""
        if not names:
            return set()
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(self.tasks.c.image).distinct()
                                    .where(self.tasks.c.image.in_(names))).scalars())

    def position(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(self.sync_state.c.position)
                                .where(self.sync_state.c.name == name)).scalar_one_or_none()

    def set_position(self, name: str, position: str) -> None:
        s = self.sync_state
        with self.engine.begin() as conn:
            if conn.execute(s.update().where(s.c.name == name).values(position=position)).rowcount == 0:
                conn.execute(s.insert().values(name=name, position=position))

    def iter_ids(self) -> Iterator[str]:
        """Every task id (tests and demos; the API never needs all of them)."""
        with self.engine.connect() as conn:
            yield from conn.execute(sa.select(self.tasks.c.id)).scalars()


def _engine_options(url: str, timeout: float | None) -> dict[str, Any]:
    """``timeout``: how long to wait for the server (connect, or a free pooled connection)
    before giving up, so an outage fails a request fast instead of hanging it."""
    if url.startswith("sqlite"):
        # The API answers from threads: one SQLite connection is shared with care by SQLAlchemy.
        # (Its timeout is how long a writer waits for the file lock, not an outage.)
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if timeout is None:
        return {"pool_pre_ping": True}
    # libpq counts connect_timeout in whole seconds, and treats 1 as 2.
    return {"pool_pre_ping": True, "pool_timeout": timeout,
            "connect_args": {"connect_timeout": max(2, round(timeout))}}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL: readers do not wait for the writer, and a commit is an append (much faster
    when the API, the relay and the event follower write at the same time)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _row(mapping: Any) -> TaskRow:
    return TaskRow(
        id=mapping["id"], status=mapping["status"], priority=mapping["priority"],
        image=mapping["image"], filters=json.loads(mapping["filters"]),
        attempts=mapping["attempts"], error=mapping["error"], worker_id=mapping["worker_id"],
        result_path=mapping["result_path"], idempotency_key=mapping["idempotency_key"],
        fingerprint=mapping["fingerprint"], created_at=mapping["created_at"],
        updated_at=mapping["updated_at"], started_at=mapping["started_at"],
        finished_at=mapping["finished_at"])


def encode_cursor(row: TaskRow) -> str:
    raw = json.dumps([row.created_at, row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """ValueError (one line, what to do) if the cursor was not made by this API."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, task_id = json.loads(raw)
        return float(created), str(task_id)
    except (ValueError, TypeError) as error:
        raise ValueError(f"cursor {cursor[:40]!r} is not one this API gave out ({error}); "
                         f"use the 'next_cursor' of the previous page") from None
