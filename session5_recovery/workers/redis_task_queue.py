"""Session 4's Redis queue, grown the parts that let it survive crashes.

The methods a learner knows stay (``add_task``, ``get_task``, ``mark_completed``,
``mark_failed``, ``get_stats``, ``get_task_info``, ``join``, ``clear``); what
changed underneath:

- a claim moves the id into the claiming worker's *own* list,
  ``{q}:processing:{worker_id}`` (``BLMOVE``, atomic), so the queue always knows
  who has which task;
- every other state change is one command of the Lua script ``queue.lua``, run
  atomically by Redis: complete, fail (retry or dead-letter), requeue, reap,
  promote, replay... Python only decides *what* to do; the script makes it
  happen all at once or not at all;
- completion is fenced: ``mark_completed`` records the result only if the id
  was still in this worker's list. A worker that was declared dead (and whose
  task went to someone else) is refused and cannot overwrite anything;
- failures retry later (``{q}:delayed``, exponential backoff with full jitter)
  or go to the dead-letter queue ``{q}:dlq``;
- a worker that stops sending heartbeats is reaped: ``reap()`` hands its tasks
  back. Workers call it periodically, and so does the monitor;
- everything that happens is appended to the stream ``{q}:events``.

Counts come from the keys themselves (like RQ's registries): there is no
counter to drift, and ``conservation()`` checks that every task is somewhere.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from .keys import QueueKeys
from .redis_connection import HOW_TO_GET_REDIS, RedisUnavailableError, redact
from .settings import RecoverySettings, backoff_delay
from .task import Task, TaskStatus, as_json_object

DEFAULT_QUEUE_NAME = "image_processing"
# A task is a small JSON document; large inputs belong in files, referenced by path.
MAX_TASK_BYTES = 1_000_000
# Error texts are stored on the task; a huge exception message should not bloat Redis.
MAX_ERROR_CHARS = 2_000
QUEUE_LUA = (Path(__file__).with_name("queue.lua")).read_text(encoding="utf-8")

log = logging.getLogger(__name__)


class TaskNotFoundError(KeyError):
    """No task with this id is stored under this queue's name."""

    def __init__(self, task_id: str, queue_name: str) -> None:
        super().__init__(task_id)
        self.task_id = task_id
        self.queue_name = queue_name

    def __str__(self) -> str:
        return (f"no task with id {self.task_id!r} in queue {self.queue_name!r}. Use the id "
                f"that add_task() returned; `python -m session5_recovery.workers dlq list` "
                f"shows the dead-lettered ones")


def connection_help(url: str | None, error: BaseException) -> RedisUnavailableError:
    """One clear error for "Redis is not there", with the three ways to get one."""
    where = redact(url) if url else "the configured host and port"
    return RedisUnavailableError(f"Cannot connect to Redis at {where}: {error}\n{HOW_TO_GET_REDIS}")


def _text(value: Any) -> Any:
    """Redis replies are bytes unless the client has decode_responses=True; accept both."""
    return value.decode() if isinstance(value, bytes) else value


def _refuse_fakeredis_without_lua(client: Any) -> None:
    """fakeredis runs Lua only with the optional ``lupa`` package: say so before the first call."""
    if not type(client).__module__.startswith("fakeredis"):
        return
    try:
        import lupa  # noqa: F401
    except ImportError:
        raise RuntimeError(
            "session 5's queue runs Lua scripts, and fakeredis can run them only with the "
            "optional 'lupa' package (pip install lupa). Use a real Redis instead: the local "
            "server, REDIS_URL, or workshop.redis_connection.start_embedded()") from None


@dataclass(frozen=True)
class Recovery:
    """One task the reaper took from a dead worker: ``outcome`` is "requeued" or "failed" (DLQ)."""

    worker_id: str
    task_id: str
    outcome: str


@dataclass(frozen=True)
class WorkerInfo:
    """A registered worker as the monitor shows it."""

    worker_id: str
    last_seen: float  # the worker's own clock at its last heartbeat
    ttl_left: float | None  # seconds until its heartbeat expires (Redis's clock); None: expired
    in_flight: tuple[str, ...]  # the ids in its processing list

    @property
    def alive(self) -> bool:
        return self.ttl_left is not None


@dataclass(frozen=True)
class Event:
    """One entry of the event stream ``{q}:events``."""

    id: str  # the stream id, e.g. "1718000000000-0" (milliseconds-sequence, given by Redis)
    name: str  # enqueued, claimed, completed, failed, retry_scheduled, requeued, ...
    ts: float  # the time the event happened, by the clock of whoever caused it
    fields: dict[str, str]  # task, worker, attempt, reason, error, delay, ...

    @property
    def task_id(self) -> str | None:
        return self.fields.get("task")

    @property
    def worker_id(self) -> str | None:
        return self.fields.get("worker")

    @property
    def attempt(self) -> int | None:
        value = self.fields.get("attempt")
        return None if value is None else int(value)


@dataclass(frozen=True)
class Conservation:
    """Where every task is, counted at one instant; ``holds`` if none is missing or doubled.

    pending + processing (every worker's list) + delayed + completed + failed (the DLQ)
    must equal the number of tasks the queue holds (``enqueued``): a task is
    always in exactly one place.
    """

    enqueued: int
    pending: int
    processing: int
    delayed: int
    completed: int
    failed: int

    @property
    def accounted(self) -> int:
        return self.pending + self.processing + self.delayed + self.completed + self.failed

    @property
    def holds(self) -> bool:
        return self.accounted == self.enqueued

    def __str__(self) -> str:
        verdict = "==" if self.holds else "!="
        return (f"pending {self.pending} + in flight {self.processing} + delayed {self.delayed} "
                f"+ completed {self.completed} + failed {self.failed} = {self.accounted} "
                f"{verdict} enqueued {self.enqueued}")


class RedisTaskQueue:
    """A FIFO task queue in Redis under ``queue_name``, with recovery, retries and a DLQ.

    Give it a ``client`` (a ``redis.Redis``), a ``url`` (``redis://host:port/db``,
    also ``rediss://`` and passwords), or ``host``/``port``/``db``. ``settings``
    holds every interval, TTL and retry parameter, and the clock (see settings.py).
    The Lua commands need a real Redis (or Valkey) server: fakeredis runs Lua only
    with the optional ``lupa`` package.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 6379,
        db: int = 0,
        *,
        url: str | None = None,
        client: redis.Redis | None = None,
        queue_name: str = DEFAULT_QUEUE_NAME,
        settings: RecoverySettings | None = None,
    ) -> None:
        self.keys = QueueKeys(queue_name)
        self.settings = settings or RecoverySettings()
        self._url = url
        self._owns_client = client is None
        if client is None:
            client = (redis.Redis.from_url(url, decode_responses=True) if url
                      else redis.Redis(host=host, port=port, db=db, decode_responses=True))
        self.client = client
        _refuse_fakeredis_without_lua(client)
        # redis-py sends the script by its SHA1 (EVALSHA) and loads it on first use.
        self._script = client.register_script(QUEUE_LUA)
        # task id -> (worker id, attempt) for the tasks this object claimed and has not
        # finished, so mark_completed(task_id, result) needs no worker id, as in session 4.
        self._claimed: dict[str, tuple[str, int]] = {}

    @classmethod
    def connect(cls, url: str | None = None, *, queue_name: str = DEFAULT_QUEUE_NAME,
                settings: RecoverySettings | None = None, **client_kwargs: Any) -> RedisTaskQueue:
        """A queue on ``url`` whose connection is checked now (RedisUnavailableError if down)."""
        url = url or "redis://localhost:6379/0"
        client = redis.Redis.from_url(url, decode_responses=True, **client_kwargs)
        queue = cls(client=client, queue_name=queue_name, settings=settings)
        queue._url, queue._owns_client = url, True
        queue.check_connection()
        return queue

    @property
    def queue_name(self) -> str:
        return self.keys.name

    def check_connection(self) -> None:
        """PING the server; turn "connection refused" into one message that says what to do."""
        try:
            self.client.ping()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
            raise connection_help(self._url, error) from None

    def close(self) -> None:
        """Close the connection, if this queue opened it."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> RedisTaskQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, command: str, *args: Any, client: Any = None) -> Any:
        """Run one command of queue.lua with the queue name, the time and the stream cap."""
        argv = [command, self.queue_name, repr(self.settings.clock()),
                self.settings.events_maxlen, *args]
        return self._script(keys=[], args=argv, client=client)

    # --- producers ---------------------------------------------------------

    def add_task(self, data: dict[str, Any], *, max_attempts: int | None = None) -> str:
        """Queue the work described by ``data`` (a JSON-ready dict) and return its id at once.

        ``data["type"]`` picks the handler (``"image"`` if absent). ``max_attempts``
        (default: the settings') is stored on the task, so every worker and reaper
        applies the same limit to it.
        """
        return self.add_tasks([data], max_attempts=max_attempts)[0]

    def add_tasks(self, items: Iterable[dict[str, Any]], *,
                  max_attempts: int | None = None) -> list[str]:
        """Queue many tasks in one round trip; return their ids in the same order."""
        limit = self.settings.max_attempts if max_attempts is None else max_attempts
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"max_attempts must be an integer >= 1, got {limit!r}")
        prepared = [self._prepare(data, index) for index, data in enumerate(items)]
        pipe = self.client.pipeline(transaction=False)
        for task_id, kind, text in prepared:
            self._call("enqueue", task_id, kind, text, limit, client=pipe)
        pipe.execute()
        return [task_id for task_id, _, _ in prepared]

    @staticmethod
    def _prepare(data: Any, index: int) -> tuple[str, str, str]:
        what = "task data" if index == 0 else f"task data (item {index})"
        data = as_json_object(data, what)  # TypeError with a clear message if not JSON
        kind = data.get("type", "image")
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"{what}: 'type' must be a task type name such as 'image', got {kind!r}")
        text = json.dumps(data)
        if len(text.encode()) > MAX_TASK_BYTES:
            raise ValueError(
                f"{what} is {len(text.encode()):,} bytes of JSON; the limit is {MAX_TASK_BYTES:,}. "
                f"Store large inputs in a file and put its path in the task")
        return uuid.uuid4().hex, kind, text

    # --- workers: claim and finish -----------------------------------------

    def get_task(self, worker_id: str, timeout: float | None = 5.0) -> Task | None:
        """Claim the oldest pending task for ``worker_id``, waiting for one if needed.

        ``timeout`` seconds at most; ``0`` does not wait (``LMOVE``); ``None`` waits
        as long as it takes. Returns the claimed Task (status PROCESSING, attempts
        counted) or None if the time ran out. Entries that are not tasks (an id
        pushed by hand, bytes that are not text) are moved to the DLQ on the way.
        """
        if not isinstance(worker_id, str) or not worker_id or any(c in worker_id for c in " *?[]"):
            raise ValueError(f"worker_id must be a non-empty name without spaces or glob "
                             f"characters, e.g. 'worker-1'; got {worker_id!r}")
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout >= 0):
            raise ValueError(f"timeout must be a number of seconds >= 0, or None to wait "
                             f"without limit; got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                task_id = self._claim_id(worker_id, remaining)
            except UnicodeDecodeError:
                self._quarantine_undecodable(worker_id)
                continue
            if task_id is None:
                return None
            task = self._start(worker_id, task_id)
            if task is not None:
                return task
            # Not a task (now in the DLQ): claim the next one with what is left of the timeout.

    def _claim_id(self, worker_id: str, timeout: float | None) -> str | None:
        """Atomically move the oldest pending id into this worker's own list."""
        mine = self.keys.processing(worker_id)
        if timeout == 0:
            return _text(self.client.lmove(self.keys.pending, mine, "RIGHT", "LEFT"))
        # The server parks the connection until an id arrives or the time is up.
        # Redis reads a timeout of 0 as "forever", which is what None means here.
        return _text(self.client.blmove(self.keys.pending, mine, timeout or 0, "RIGHT", "LEFT"))

    def _start(self, worker_id: str, task_id: str) -> Task | None:
        """Record the claim (owner, attempt, event) and build the Task; None if it is no task."""
        try:
            reply = [_text(v) for v in self._call("claim", worker_id, task_id,
                                                   self.settings.heartbeat_ttl_ms)]
        except UnicodeDecodeError as error:
            # The claim went through (the id is in our list, the attempt counted), but the
            # hash holds bytes that are not UTF-8 text (written by hand?), so our client
            # cannot read the reply. Dead-letter the task, saying so.
            self.mark_failed(task_id, f"the task hash {self.keys.task(task_id)} holds bytes "
                                      f"that are not UTF-8 text ({error.reason} at byte "
                                      f"{error.start}); add tasks with add_task(), not with "
                                      f"redis-cli", permanent=True, worker_id=worker_id)
            return None
        if reply[0] == "quarantined":
            log.warning("queue %s: id %r has no task record; moved to the DLQ", self.queue_name, task_id)
            return None
        _, kind, data_text, attempt, max_attempts = reply
        attempt = int(attempt)
        self._claimed[task_id] = (worker_id, attempt)
        try:
            if data_text is None:
                raise ValueError(f"the hash {self.keys.task(task_id)} has no 'data' field")
            data = json.loads(data_text)
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, found {type(data).__name__}")
        except ValueError as error:
            self.mark_failed(task_id, f"the task's data is not a JSON object ({error}); add tasks "
                                      f"with add_task(), not with redis-cli", permanent=True)
            return None
        return Task(data=data, id=task_id, type=kind, status=TaskStatus.PROCESSING,
                    attempts=attempt, max_attempts=int(max_attempts or 0), worker_id=worker_id,
                    started_at=self.settings.clock())

    def _quarantine_undecodable(self, worker_id: str) -> None:
        """Move entries that are not UTF-8 text out of ``worker_id``'s list into the DLQ.

        Our client decodes replies as text, so such an entry (pushed by hand with
        redis-cli) cannot even be read; a second connection that keeps bytes moves it.
        """
        pool = self.client.connection_pool
        raw = redis.Redis(connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class,
            **{**pool.connection_kwargs, "decode_responses": False}))
        try:
            mine = self.keys.processing(worker_id)
            for entry in raw.lrange(mine, 0, -1):
                try:
                    entry.decode("utf-8")
                    continue
                except UnicodeDecodeError:
                    pass
                task_id = uuid.uuid4().hex
                reason = (f"the pending list held {len(entry)} bytes that are not UTF-8 text "
                          f"(starting {entry[:20]!r}); pushed by hand? Stored here as task {task_id}")
                now = repr(self.settings.clock())
                pipe = raw.pipeline()  # MULTI/EXEC: moved and recorded together
                pipe.lrem(mine, 1, entry)
                pipe.sadd(self.keys.tasks, task_id)
                pipe.hset(self.keys.task(task_id), mapping={
                    "id": task_id, "type": "unknown", "status": "failed", "attempts": 0,
                    "max_attempts": 0, "history": 0, "created_at": now, "finished_at": now,
                    "data": json.dumps({"raw_hex": entry[:200].hex()}), "reason": reason})
                pipe.lpush(self.keys.dlq, task_id)
                pipe.xadd(self.keys.events, {"event": "dead_lettered", "ts": now, "task": task_id,
                                             "worker": worker_id, "attempt": 0, "reason": reason},
                          maxlen=self.settings.events_maxlen, approximate=True)
                pipe.execute()
                log.warning("queue %s: %s", self.queue_name, reason)
        finally:
            raw.close()

    def _owner(self, task_id: str, worker_id: str | None) -> tuple[str, int]:
        """(worker, attempt) for finishing ``task_id``: remembered from our claim, or given."""
        claimed = self._claimed.pop(task_id, None)
        if worker_id is not None:
            if claimed is not None and claimed[0] == worker_id:
                return claimed
            attempts = _text(self.client.hget(self.keys.task(task_id), "attempts"))
            return worker_id, int(attempts or 0)
        if claimed is None:
            raise ValueError(
                f"this queue object did not claim task {task_id!r}, so it cannot tell which "
                f"worker is finishing it: pass worker_id=... (the worker that claimed it)")
        return claimed

    def mark_completed(self, task_id: str, result: dict[str, Any] | None = None, *,
                       worker_id: str | None = None) -> bool:
        """Record that ``task_id`` succeeded, with an optional JSON-ready result.

        Returns True if recorded. Returns False, writes nothing and logs a warning if
        the task was no longer this worker's (the reaper gave it to another worker
        while this one was paused or cut off): the *fence* that makes a stale worker
        harmless.
        """
        if result is not None:
            result = as_json_object(result, "result")
        worker, _ = self._owner(task_id, worker_id)
        pairs: list[str] = []
        for key, value in (result or {}).items():
            pairs += [key, json.dumps(value)]
        outcome = _text(self._call("complete", worker, task_id, *pairs))
        if outcome == "refused":
            log.warning("queue %s: completion of task %s by %s REFUSED: the task is no longer "
                        "in that worker's list (it was declared dead and the task was requeued)",
                        self.queue_name, task_id, worker)
            return False
        return True

    def mark_failed(self, task_id: str, error: str, *, permanent: bool = False,
                    worker_id: str | None = None) -> str:
        """Record a failed attempt; the queue decides what happens next.

        Returns "retry" (scheduled in ``{q}:delayed`` after a backoff), "failed"
        (dead-lettered: ``permanent`` or no attempts left) or "refused" (the task
        was no longer this worker's; nothing written).
        """
        if not isinstance(error, str):
            raise TypeError(f"error must be a message string, e.g. str(exc); got {type(error).__name__}")
        error = error if len(error) <= MAX_ERROR_CHARS else error[:MAX_ERROR_CHARS] + "..."
        worker, attempt = self._owner(task_id, worker_id)
        delay = backoff_delay(max(1, attempt), self.settings)
        entry = json.dumps({"attempt": attempt, "at": self.settings.clock(), "worker": worker,
                            "error": error, "permanent": permanent})
        reply = self._call("fail", worker, task_id, error, "1" if permanent else "0",
                           f"{delay:.3f}", entry)
        outcome = _text(reply[0])
        if outcome == "refused":
            log.warning("queue %s: failure of task %s by %s REFUSED: no longer its task",
                        self.queue_name, task_id, worker)
        return outcome

    def requeue(self, task_id: str, *, worker_id: str | None = None,
                reason: str = "worker stopped") -> bool:
        """Give a claimed task back unfinished (the attempt is not counted); True if done."""
        worker, _ = self._owner(task_id, worker_id)
        return bool(self._call("requeue", worker, task_id, reason))

    def release_all(self, worker_id: str, reason: str = "worker stopped") -> int:
        """Requeue everything still in ``worker_id``'s list; how many (a clean exit leaves 0)."""
        released = 0
        for task_id in [_text(i) for i in self.client.lrange(self.keys.processing(worker_id), 0, -1)]:
            self._claimed.pop(task_id, None)
            released += int(self._call("requeue", worker_id, task_id, reason))
        return released

    # --- heartbeats and recovery ---------------------------------------------

    def register_worker(self, worker_id: str) -> None:
        """First heartbeat of a worker, plus a ``worker_started`` event."""
        self._call("register", worker_id, self.settings.heartbeat_ttl_ms, os.getpid(),
                   socket.gethostname())

    def heartbeat(self, worker_id: str) -> bool:
        """Refresh ``worker_id``'s heartbeat; False if it had expired (we were taken for dead)."""
        return bool(self._call("heartbeat", worker_id, self.settings.heartbeat_ttl_ms))

    def announce_stopping(self, worker_id: str) -> None:
        """Record a ``worker_stopping`` event (the worker finishes its task, then leaves)."""
        self._call("stopping", worker_id)

    def deregister_worker(self, worker_id: str) -> bool:
        """Remove a stopping worker from the registry (only if its list is empty)."""
        return bool(self._call("deregister", worker_id))

    def _unregistered_owners(self) -> list[str]:
        """Owners of processing lists that are missing from the registry.

        Normally none: a worker registers before it claims and leaves the registry
        only with an empty list. The Lua commands read the registry themselves;
        these extra names cover the rare list left outside it.
        """
        registered = {_text(w) for w in self.client.zrange(self.keys.workers, 0, -1)}
        found = {self.keys.worker_of(_text(key))
                 for key in self.client.scan_iter(match=self.keys.processing_pattern, count=1000)}
        return sorted(found - registered)

    def reap(self) -> list[Recovery]:
        """Hand the tasks of every worker whose heartbeat expired back to the queue.

        One atomic Lua call does the work (see queue.lua, "reap"); what it did is
        returned and also recorded in the event stream (requeued, dead_lettered,
        worker_lost). Safe to run from any number of processes at once.
        """
        flat = [_text(v) for v in self._call("reap", *self._unregistered_owners())]
        return [Recovery(*flat[i:i + 3]) for i in range(0, len(flat), 3)]

    def promote_due(self, limit: int = 100) -> int:
        """Move retries whose due time has passed from ``{q}:delayed`` to pending."""
        return int(self._call("promote", limit))

    def maintain(self) -> tuple[list[Recovery], int]:
        """The periodic chores: reap dead workers, promote due retries."""
        return self.reap(), self.promote_due()

    def workers(self) -> list[WorkerInfo]:
        """The registered workers with their heartbeat age and in-flight ids."""
        registered = self.client.zrange(self.keys.workers, 0, -1, withscores=True)
        pipe = self.client.pipeline(transaction=False)
        for worker, _ in registered:
            pipe.pttl(self.keys.heartbeat(_text(worker)))
            pipe.lrange(self.keys.processing(_text(worker)), 0, -1)
        replies = pipe.execute()
        infos = []
        for index, (worker, last_seen) in enumerate(registered):
            ttl_ms, ids = replies[2 * index], replies[2 * index + 1]
            infos.append(WorkerInfo(_text(worker), float(last_seen),
                                    ttl_ms / 1000 if ttl_ms and ttl_ms > 0 else None,
                                    tuple(_text(i) for i in ids)))
        return infos

    # --- the dead-letter queue -------------------------------------------------

    def dlq_ids(self, limit: int | None = None) -> list[str]:
        """Ids in the DLQ, newest first."""
        if limit == 0:
            return []
        return [_text(i) for i in self.client.lrange(self.keys.dlq, 0, -1 if limit is None else limit - 1)]

    def dlq_tasks(self, limit: int | None = None) -> list[Task]:
        """The dead-lettered tasks, newest first, with their reasons and error history."""
        return [task for task in (self.get_task_info(i) for i in self.dlq_ids(limit)) if task]

    def replay(self, task_id: str) -> bool:
        """Send one dead-lettered task back to pending with fresh attempts; False if not in the DLQ."""
        return bool(self._call("replay", task_id))

    def replay_all(self) -> int:
        """Replay every task in the DLQ; how many."""
        return sum(self.replay(task_id) for task_id in reversed(self.dlq_ids()))

    def purge_dlq(self) -> int:
        """Delete every dead-lettered task for good; how many."""
        return int(self._call("purge"))

    # --- reading ----------------------------------------------------------------

    def conservation(self) -> Conservation:
        """Every count at one instant (one Lua call): the invariant check."""
        reply = [_text(v) for v in self._call("counts", *self._unregistered_owners())]
        enqueued, pending, delayed, completed, failed = (int(n) for n in reply[:5])
        in_flight = sum(int(n) for n in reply[6::2])
        return Conservation(enqueued=enqueued, pending=pending, processing=in_flight,
                            delayed=delayed, completed=completed, failed=failed)

    def get_stats(self) -> dict[str, int]:
        """How many tasks are in each state, from the keys' own counts.

        ``failed`` is the DLQ; ``total`` adds the five states up and ``enqueued`` is
        the number of tasks the queue holds: the two are equal (``conservation``).
        """
        c = self.conservation()
        return {"pending": c.pending, "processing": c.processing, "delayed": c.delayed,
                "completed": c.completed, "failed": c.failed, "total": c.accounted,
                "enqueued": c.enqueued, "workers": int(self.client.zcard(self.keys.workers))}

    def get_task_info(self, task_id: str) -> Task | None:
        """The task ``task_id`` as stored now (with its result, if any); None if there is none."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.task(task_id))
        pipe.hgetall(self.keys.result(task_id))
        fields, result = pipe.execute()
        if not fields:
            return None
        fields = {_text(k): _text(v) for k, v in fields.items()}
        return Task.from_fields(fields, self._decode_result(result))

    def get_result(self, task_id: str) -> dict[str, Any] | None:
        """The result stored by ``mark_completed``; None if there is none (yet)."""
        return self._decode_result(self.client.hgetall(self.keys.result(task_id)))

    @staticmethod
    def _decode_result(fields: dict[Any, Any]) -> dict[str, Any] | None:
        if not fields:
            return None
        return {_text(key): json.loads(_text(value)) for key, value in fields.items()}

    def events(self, count: int | None = 100, *, after: str | None = None) -> list[Event]:
        """Events in order: the last ``count`` (None: all kept), or those after stream id ``after``."""
        if after is not None:
            entries = self.client.xrange(self.keys.events, min=f"({after}", count=count)
        else:
            entries = list(reversed(self.client.xrevrange(self.keys.events, count=count)))
        events = []
        for entry_id, raw in entries:
            fields = {_text(k): _text(v) for k, v in raw.items()}
            events.append(Event(_text(entry_id), fields.pop("event", "?"),
                                float(fields.pop("ts", 0) or 0), fields))
        return events

    def list_ids(self, state: TaskStatus | str, limit: int | None = None) -> list[str]:
        """Ids in one state: pending and failed newest first (as LRANGE shows them),
        delayed by due time, completed oldest first, processing for every worker."""
        state = TaskStatus(str(state))
        end = -1 if limit is None else limit - 1
        if limit == 0:
            return []
        if state is TaskStatus.DELAYED:
            ids = self.client.zrange(self.keys.delayed, 0, end)
        elif state is TaskStatus.PROCESSING:
            ids = []
            for info in self.workers():
                ids.extend(info.in_flight)
            for worker in self._unregistered_owners():
                ids.extend(self.client.lrange(self.keys.processing(worker), 0, -1))
            ids = ids if limit is None else ids[:limit]
        else:
            key = {TaskStatus.PENDING: self.keys.pending, TaskStatus.COMPLETED: self.keys.completed,
                   TaskStatus.FAILED: self.keys.dlq}[state]
            ids = self.client.lrange(key, 0, end)
        return [_text(i) for i in ids]

    def locate(self, task_id: str) -> list[str]:
        """Every place ``task_id`` is, e.g. ``["pending"]`` or ``["processing:worker-1"]``.

        Exactly one place, always (the conservation invariant, for one task); a
        list so that a bug that puts a task in two places shows up.
        """
        places: list[str] = []
        for name, key in (("pending", self.keys.pending), ("completed", self.keys.completed),
                          ("failed", self.keys.dlq)):
            places += [name] * len(self.client.lpos(key, task_id, count=0) or [])
        if self.client.zscore(self.keys.delayed, task_id) is not None:
            places.append("delayed")
        owners = {_text(w) for w in self.client.zrange(self.keys.workers, 0, -1)}
        owners.update(self._unregistered_owners())
        for worker in sorted(owners):
            found = self.client.lpos(self.keys.processing(worker), task_id, count=0) or []
            places += [f"processing:{worker}"] * len(found)
        return places

    def is_drained(self) -> bool:
        """Nothing pending, in flight or waiting for a retry."""
        c = self.conservation()
        return c.pending + c.processing + c.delayed == 0

    def join(self, timeout: float | None = None, *, poll_interval: float = 0.05) -> bool:
        """Wait until nothing is pending, in flight or delayed; True if so, False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_drained():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(poll_interval)
        return True

    def clear(self) -> int:
        """Delete this queue's keys (and nobody else's); how many. Never FLUSHDB."""
        keys = list(self.keys.fixed())
        for pattern in self.keys.patterns():
            keys.extend(self.client.scan_iter(match=pattern, count=1000))
        deleted = 0
        for start in range(0, len(keys), 1000):  # DEL in batches: one huge command blocks Redis
            deleted += self.client.delete(*keys[start:start + 1000])
        self._claimed.clear()
        return deleted

    def __len__(self) -> int:
        """The number of pending tasks."""
        return int(self.client.llen(self.keys.pending))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(queue_name={self.queue_name!r})"
