"""Session 4's Redis queue, grown the parts that let it survive crashes.

The methods a learner knows stay (``add_task``, ``get_task``, ``mark_completed``,
``mark_failed``, ``get_stats``, ``get_task_info``, ``join``, ``clear``); what
changed underneath:

- every state change is one command of the Lua script ``queue.lua``, run
  atomically by Redis: enqueue, claim, complete, fail (retry or dead-letter),
  requeue, reap, promote, replay, cancel... Python only decides *what* to do;
  the script checks everything first and then makes it happen;
- a claim moves the id into the claiming worker's *own* list,
  ``{q}:processing:{worker_id}``, inside the claim script (``LMOVE``), so the
  queue always knows who has which task; ``get_tasks`` claims a batch in one call;
  only an empty queue makes a worker wait (``BLPOP`` on a wake-up list);
- completion is fenced: ``mark_completed`` records the result only if the id
  was still in this worker's list. A worker that was declared dead (and whose
  task went to someone else) is refused and cannot overwrite anything. Every
  finishing command may be resent by the same worker after a lost reply;
- three priorities (high, normal, low), pause/resume and cancel;
- failures retry later (``{q}:delayed``, exponential backoff with full jitter)
  or go to the dead-letter queue ``{q}:dlq``; ``add_task(..., delay=30)`` or
  ``run_at=`` puts a new task in the same delayed set, to wait for its time;
- a worker that stops sending heartbeats is reaped: ``reap()`` hands its tasks
  back. Workers call it periodically, and so does the monitor;
- everything that happens is appended to the stream ``{q}:events``.

Counts come from the keys themselves (like RQ's registries): there is no
counter to drift, and ``conservation()`` checks that every task is somewhere.
Periodic work (reap, counts, "drained?") costs O(workers): it reads the worker
registry, never the whole keyspace; ``sweep()`` is the explicit full scan.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from session4_redis.workers.redis_connection import HOW_TO_GET_REDIS, RedisUnavailableError, redact

from .cluster import redis_client
from .keys import PRIORITIES, QueueKeys, check_name
from .lua_scripts import COMMANDS
from .settings import RecoverySettings, backoff_delay
from .task import Task, TaskStatus, as_json_object, decode_result, parse_json_text

DEFAULT_QUEUE_NAME = "image_processing"
# A task is a small JSON document; large inputs belong in files, referenced by path.
MAX_TASK_BYTES = 1_000_000
# A result is stored as one JSON field on the task: large outputs belong in files too.
MAX_RESULT_BYTES = 1_000_000
# Error texts are stored on the task; a huge exception message should not bloat Redis.
MAX_ERROR_CHARS = 2_000
# The most tasks one enqueue script call writes, and the most bytes of task data it
# carries (a bigger task goes alone). Redis runs one script at a time and every other
# client waits meanwhile: a chunk of 200 no-op tasks takes about 4 ms on the server
# here, so no add_tasks() call, however long, holds the server for more than a few
# milliseconds at a time (one call of 100,000 tasks used to block it for seconds).
ENQUEUE_CHUNK = 200
ENQUEUE_CHUNK_BYTES = 1_000_000
# The same bound for the other commands whose work grows with the data: purge, replay
# all, and the reaper's extra workers (sweep) go this many at a time.
COMMAND_CHUNK = 500
# The most successes one "complete_batch" call records (a prefetched batch's end).
COMPLETE_CHUNK = 100
# The most tasks one claim may take (prefetch): a claim moves them in one script.
MAX_CLAIM = 1_000
# A ``run_at`` at most this many seconds in the past is clock jitter between the producer
# and whoever computed the time (the task is pending at once); further back, it is a
# mistake (a date typed wrong, milliseconds for seconds) and is refused.
RUN_AT_TOLERANCE = 1.0

log = logging.getLogger(__name__)


class DuplicateTaskError(ValueError):
    """``add_task(task_id=...)`` with an id the queue already holds: nothing was written."""

    def __init__(self, task_id: str, queue_name: str) -> None:
        super().__init__(f"queue {queue_name!r} already holds a task with id {task_id!r}; "
                         f"an id is used once. Pick another id, or leave task_id out to get one")
        self.task_id = task_id


class QueuedIds(list):
    """The ids of an ``add_tasks`` call, in order (a list), and how many were new.

    ``queued`` were written by this call; ``already`` were in the queue before it
    (a batch resent with the same ids after a timeout): refused as duplicates,
    not queued twice.
    """

    def __init__(self, ids: Iterable[str], queued: int, already: int) -> None:
        super().__init__(ids)
        self.queued = queued
        self.already = already


class ResultTooLargeError(ValueError):
    """A handler's result is over ``MAX_RESULT_BYTES`` as JSON: the task fails permanently."""


def is_outage(error: BaseException) -> bool:
    """Is ``error`` Redis being unavailable for a while (wait and retry), not a refusal?

    Unreachable or too slow to answer (ConnectionError, TimeoutError); loading its
    data after a restart (``LOADING``: redis-py's BusyLoadingError, a ConnectionError);
    or busy running a long script (``BUSY``: a plain ResponseError). A server that is
    loading or busy did not run the command: the same wait-and-retry as a lost
    connection is right, and a crash would be wrong.
    """
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
        return True
    return isinstance(error, redis.ResponseError) and str(error).startswith("BUSY")


def describe_outage(error: BaseException) -> str:
    """The outage in words, for the one line a worker prints about it."""
    text = str(error)
    if text.startswith("BUSY"):
        return "Redis is busy running a long script (BUSY); every client waits"
    if isinstance(error, redis.exceptions.BusyLoadingError) or text.startswith("LOADING"):
        return "Redis is loading its data into memory (LOADING)"
    return f"cannot reach Redis ({error})"


def _chunks(prepared: list[tuple[str, str, str]], most: int = ENQUEUE_CHUNK
            ) -> Iterable[list[tuple[str, str, str]]]:
    """``(id, _, text)`` triples in chunks of at most ``most`` and ENQUEUE_CHUNK_BYTES of text."""
    chunk: list[tuple[str, str, str]] = []
    size = 0
    for task in prepared:
        if chunk and (len(chunk) >= most or size + len(task[2]) > ENQUEUE_CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(task)
        size += len(task[2])
    if chunk:
        yield chunk


def due_time(run_at: datetime | float | None, delay: float | None, now: float) -> float | None:
    """When a task asked with ``run_at`` or ``delay`` is due (a Unix time); None: now.

    ``run_at`` is a timezone-aware ``datetime`` or Unix seconds; ``delay`` is seconds
    from ``now``. One of them, not both. ValueError, naming the argument, for a value
    that cannot be a due time: not a finite number, a negative delay, a naive datetime,
    or a ``run_at`` more than ``RUN_AT_TOLERANCE`` seconds in the past.
    """
    if run_at is not None and delay is not None:
        raise ValueError("give run_at (a time) or delay (seconds), not both")
    if run_at is None and delay is None:
        return None
    name, value = ("delay", delay) if delay is not None else ("run_at", run_at)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"run_at {value.isoformat()} has no time zone; give an aware "
                             f"datetime, e.g. datetime.now(timezone.utc) + timedelta(minutes=5)")
        value = value.timestamp()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    if name == "delay":
        if value < 0:
            raise ValueError(f"delay must be >= 0 seconds, got {value!r}")
        return None if value == 0 else now + value
    if value < now - RUN_AT_TOLERANCE:
        raise ValueError(f"run_at {value:.3f} is {now - value:.1f} s in the past; to run now, "
                         f"leave run_at out (or use delay=0)")
    return None if value <= now else float(value)


def connection_help(url: str | None, error: BaseException) -> RedisUnavailableError:
    """One clear error for "Redis is not there", with the three ways to get one."""
    where = redact(url) if url else "the configured host and port"
    return RedisUnavailableError(f"Cannot connect to Redis at {where}: {error}\n{HOW_TO_GET_REDIS}")


# Our clients read replies as text. Bytes that are not UTF-8 (written by hand with
# redis-cli?) become escape characters instead of an error that would sink a whole
# batch claim, and are written back as the same bytes; the task then fails as bad data.
TEXT_REPLIES = {"decode_responses": True, "encoding_errors": "surrogateescape"}


def _refuse_bytes_client(client: Any) -> None:
    """The queue reads every reply as text: refuse a client that would hand it bytes.

    Refused rather than wrapped: a wrapper would need a second connection pool
    beside the caller's, with its own settings to keep in step.
    """
    if not client.get_connection_kwargs().get("decode_responses"):
        raise ValueError("RedisTaskQueue needs a client that decodes replies: make it with "
                         "decode_responses=True (redis.Redis(..., decode_responses=True)), "
                         "or pass url= and let the queue make its own")


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
    """One task the reaper took from a dead worker: ``outcome`` is "requeued" or "dead_lettered"."""

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

    @classmethod
    def from_entry(cls, entry_id: Any, raw: dict[Any, Any]) -> Event:
        """A stream entry as XRANGE or XREAD return it, from a client that decodes replies."""
        fields = dict(raw)
        return cls(entry_id, fields.pop("event", "?"), float(fields.pop("ts", 0) or 0),
                   fields)

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

    pending (all priorities) + processing (every worker's list) + delayed +
    completed + dead_lettered (the DLQ) + cancelled + expired must equal
    ``enqueued``, the tasks the queue holds plus those retention has deleted
    (purged ones leave both sides): a task is always in exactly one place.
    """

    enqueued: int
    pending: int
    processing: int
    delayed: int
    completed: int
    dead_lettered: int
    cancelled: int = 0
    expired: int = 0  # finished tasks deleted by retention (result_ttl, failure_ttl)
    pending_by_priority: tuple[int, int, int] = (0, 0, 0)  # high, normal, low
    paused: bool = False

    @property
    def accounted(self) -> int:
        return (self.pending + self.processing + self.delayed + self.completed
                + self.dead_lettered + self.cancelled + self.expired)

    @property
    def holds(self) -> bool:
        return self.accounted == self.enqueued

    def __str__(self) -> str:
        verdict = "==" if self.holds else "!="
        return (f"pending {self.pending} + in flight {self.processing} + delayed {self.delayed} "
                f"+ completed {self.completed} + dead_lettered {self.dead_lettered} "
                f"+ cancelled {self.cancelled} + expired {self.expired} = {self.accounted} "
                f"{verdict} enqueued {self.enqueued}")


class RedisTaskQueue:
    """A task queue in Redis under ``queue_name``, with recovery, retries, a DLQ and priorities.

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
            client = (redis.Redis.from_url(url, **TEXT_REPLIES) if url
                      else redis.Redis(host=host, port=port, db=db, **TEXT_REPLIES))
        _refuse_bytes_client(client)
        self.client = client
        _refuse_fakeredis_without_lua(client)
        # One script per command of queue.lua (lua_scripts.py); redis-py sends each by
        # its SHA1 (EVALSHA) and loads it on first use.
        self._scripts = {name: client.register_script(command.source)
                         for name, command in COMMANDS.items()}
        # As bytes: redis-py sends bytes as they are, and would encode a str on every call.
        named = {key.removeprefix(self.keys.prefix): key.encode() for key in self.keys.fixed()}
        self._queue_keys = {name: [named[key] for key in command.queue_keys]
                            for name, command in COMMANDS.items()}
        # task id -> (worker id, attempt) for the tasks this object claimed and has not
        # finished, so mark_completed(task_id, result) needs no worker id, as in session 4.
        self._claimed: dict[str, tuple[str, int]] = {}

    @classmethod
    def connect(cls, url: str | None = None, *, queue_name: str = DEFAULT_QUEUE_NAME,
                settings: RecoverySettings | None = None, **client_kwargs: Any) -> RedisTaskQueue:
        """A queue on ``url`` whose connection is checked now (RedisUnavailableError if down)."""
        url = url or "redis://localhost:6379/0"
        try:  # a single server's client, or a cluster's (cluster.py asks the server)
            client = redis_client(url, **{**TEXT_REPLIES, **client_kwargs})
        except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
            raise connection_help(url, error) from None
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

    def _call(self, command: str, *args: Any, keys: Sequence[str] = (), client: Any = None) -> Any:
        """Run one command of queue.lua with the keys its header names: the queue's own
        (the same on every call) followed by ``keys`` (one worker's, a task's, tasks')."""
        argv = [repr(self.settings.clock()), self.settings.events_maxlen, self.keys.prefix, *args]
        every_key = [*self._queue_keys[command], *keys]
        script = self._scripts[command]
        if client is not None:
            # In a pipeline, EVALSHA by hand: redis-py's script object would send SCRIPT
            # EXISTS before every execute(), one round trip for nothing. The caller loads
            # the script and sends again if the server answers NOSCRIPT (complete_many).
            return client.evalsha(script.sha, len(every_key), *every_key, *argv)
        # EVALSHA, and on NOSCRIPT (a restarted server forgot it) load and send once more:
        # what redis-py's script object does, without its layers on the call every task
        # makes.
        try:
            return self.client.evalsha(script.sha, len(every_key), *every_key, *argv)
        except redis.exceptions.NoScriptError:
            self.client.script_load(script.script)  # (the same SHA1: it is the text's)
            return self.client.evalsha(script.sha, len(every_key), *every_key, *argv)

    # --- producers ---------------------------------------------------------

    def add_task(self, data: dict[str, Any], *, task_id: str | None = None,
                 priority: str = "normal", max_attempts: int | None = None,
                 run_at: datetime | float | None = None, delay: float | None = None) -> str:
        """Queue the work described by ``data`` (a JSON-ready dict) and return its id at once.

        ``data["type"]`` picks the handler (``"image"`` if absent). ``task_id``
        (optional) enqueues under that id: if the queue already holds it, nothing
        is written and DuplicateTaskError is raised (the check is in the script,
        so two producers racing with one id cannot both win). ``priority`` is
        "high", "normal" or "low". ``max_attempts`` (default: the settings') is
        stored on the task, so every worker and reaper applies the same limit.

        ``run_at`` (an aware datetime or Unix seconds) or ``delay`` (seconds), one
        of them, makes the task wait: it is created in state "delayed" with its due
        time in ``{q}:delayed``, where retries wait, and the workers' periodic
        promotion makes it pending when that time comes (see ``due_time`` for
        the values refused). A due time that has already come queues it at once.
        """
        queued = self._enqueue([(data, task_id)], priority, max_attempts, run_at, delay)
        if queued.already:
            raise DuplicateTaskError(queued[0], self.queue_name)
        return queued[0]

    def add_tasks(self, items: Iterable[dict[str, Any]], *, priority: str = "normal",
                  max_attempts: int | None = None,
                  task_ids: Sequence[str] | None = None,
                  run_at: datetime | float | None = None,
                  delay: float | None = None) -> QueuedIds:
        """Queue many tasks; return their ids in order (with ``.queued`` and ``.already``).

        Every task is checked and every id chosen before anything is sent; then the
        tasks go in chunks of at most ``ENQUEUE_CHUNK`` (one short script call each,
        all or none per chunk). ``task_ids`` (optional, one per item) makes a resend
        safe: a producer whose call failed part-way (a timeout) calls again with the
        same ids, and the ids already queued are refused as duplicates (counted in
        ``.already``) instead of being queued twice. ``run_at`` or ``delay`` (as in
        ``add_task``) gives every task of the call the same due time.
        """
        items = list(items)
        if task_ids is not None and len(task_ids) != len(items):
            raise ValueError(f"task_ids must give one id per task: {len(task_ids)} ids for "
                             f"{len(items)} tasks")
        given = task_ids if task_ids is not None else [None] * len(items)
        return self._enqueue(list(zip(items, given, strict=True)), priority, max_attempts,
                             run_at, delay)

    def _enqueue(self, items: list[tuple[Any, str | None]], priority: str,
                 max_attempts: int | None, run_at: datetime | float | None = None,
                 delay: float | None = None) -> QueuedIds:
        limit = self.settings.max_attempts if max_attempts is None else max_attempts
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"max_attempts must be an integer >= 1, got {limit!r}")
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}; got {priority!r}")
        due = due_time(run_at, delay, self.settings.clock())
        prepared = [self._prepare(data, index, task_id)
                    for index, (data, task_id) in enumerate(items)]
        ids = [task_id for task_id, _, _ in prepared]
        if len(set(ids)) != len(ids):
            raise ValueError("the same task_id appears twice in one add_tasks() call")
        queued = already = 0
        for chunk in _chunks(prepared):
            args: list[Any] = [len(chunk), "" if due is None else repr(due)]
            for task_id, kind, text in chunk:
                args += [task_id, kind, text, limit, priority]
            try:
                reply = self._call("enqueue", *args, keys=[self.keys.task(i) for i, _, _ in chunk])
            except redis.RedisError as error:
                error.queued_before = queued  # type: ignore[attr-defined]  # for the CLI's message
                raise
            queued += int(reply[1])
            already += int(reply[2])
        return QueuedIds(ids, queued, already)

    @staticmethod
    def _prepare(data: Any, index: int, task_id: str | None) -> tuple[str, str, str]:
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
        if task_id is None:
            task_id = uuid.uuid4().hex
        else:
            check_name("task_id (or leave it out to get a fresh id)", task_id, "invoice-42")
        return task_id, kind, text

    # --- workers: claim and finish -----------------------------------------

    def get_task(self, worker_id: str, timeout: float | None = 5.0) -> Task | None:
        """Claim the oldest pending task for ``worker_id``, waiting for one if needed.

        The oldest task of the highest non-empty priority. ``timeout`` seconds at
        most; ``0`` does not wait; ``None`` waits as long as it takes. Returns the
        claimed Task (status PROCESSING, attempts counted) or None if the time ran
        out. Entries that are not tasks (an id pushed by hand, bytes that are not
        text) are moved to the DLQ on the way.
        """
        tasks = self.get_tasks(worker_id, 1, timeout)
        return tasks[0] if tasks else None

    def get_tasks(self, worker_id: str, max_tasks: int, timeout: float | None = 5.0) -> list[Task]:
        """Claim up to ``max_tasks`` at once (prefetch); [] if none came within ``timeout``.

        One script call moves them all into the worker's list and records each
        claim; when the queue is empty the worker waits on the wake-up list
        (``BLPOP``) and then claims. A worker that dies holding a batch loses none
        of it: the reaper returns the whole list.
        """
        check_name("worker_id", worker_id, "worker-1")
        if isinstance(max_tasks, bool) or not isinstance(max_tasks, int) \
                or not 1 <= max_tasks <= MAX_CLAIM:
            raise ValueError(f"max_tasks must be an integer from 1 to {MAX_CLAIM}, "
                             f"got {max_tasks!r}")
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout >= 0):
            raise ValueError(f"timeout must be a number of seconds >= 0, or None to wait "
                             f"without limit; got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        keys = [self.keys.processing(worker_id), self.keys.heartbeat(worker_id)]
        while True:
            reply = self._call("claim", worker_id, max_tasks, self.settings.heartbeat_ttl_ms,
                               keys=keys)
            outcome = reply[0]
            if outcome == "claimed":
                tasks = self._tasks_from(worker_id, reply)
                if tasks:
                    return tasks
                continue  # only entries that were not tasks (now in the DLQ): claim again
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return []
            if outcome == "paused":
                # Nothing is claimed while paused: look again in a little while.
                time.sleep(min(self.settings.claim_timeout, remaining or self.settings.claim_timeout))
                continue
            # Empty: wait for a wake-up token (pushed with every id that becomes claimable).
            # Redis reads a timeout of 0 as "forever", which is what None means here.
            if self.client.blpop([self.keys.wake], timeout=remaining or 0) is None:
                return []

    def _tasks_from(self, worker_id: str, reply: list[Any]) -> list[Task]:
        """Build the claimed Tasks from the claim's reply; dead-letter what cannot be read."""
        tasks = []
        for i in range(1, len(reply), 5):
            task_id = reply[i]
            kind, text, attempt, max_attempts = reply[i + 1:i + 5]
            attempt = int(attempt)
            self._claimed[task_id] = (worker_id, attempt)
            try:
                if not text:
                    raise ValueError(f"the hash {self.keys.task(task_id)} has no 'data' field")
                data = parse_json_text(text, "the task's data")
                if not isinstance(data, dict):
                    raise ValueError(f"expected a JSON object, found {type(data).__name__}")
            except (ValueError, RecursionError) as error:
                self.mark_failed(task_id, f"malformed task record: field 'data' is not a JSON "
                                          f"object ({error}); add tasks with add_task(), not "
                                          f"with redis-cli", permanent=True, worker_id=worker_id)
                continue
            tasks.append(Task(data=data, id=task_id, type=kind, status=TaskStatus.PROCESSING,
                              attempts=attempt, max_attempts=int(max_attempts or 0),
                              worker_id=worker_id, started_at=self.settings.clock()))
        return tasks

    def forget_claim(self, task_id: str) -> None:
        """Forget that this object claimed ``task_id`` (the task left the worker's list
        by another way than this object's finishing calls: a script of a later session
        sent it back to wait, or the reaper took it). Without it, that memory would keep
        one entry per such task for the life of the worker."""
        self._claimed.pop(task_id, None)

    def _owner(self, task_id: str, worker_id: str | None) -> tuple[str, int]:
        """(worker, attempt) for finishing ``task_id``: remembered from our claim, or given."""
        claimed = self._claimed.pop(task_id, None)
        if worker_id is not None:
            if claimed is not None and claimed[0] == worker_id:
                return claimed
            try:
                attempts = self.client.hget(self.keys.task(task_id), "attempts")
            except redis.ResponseError:  # not a task hash: the script will say so
                attempts = None
            return worker_id, int(attempts or 0)
        if claimed is None:
            raise ValueError(
                f"this queue object did not claim task {task_id!r}, so it cannot tell which "
                f"worker is finishing it: pass worker_id=... (the worker that claimed it)")
        return claimed

    @staticmethod
    def encode_result(result: dict[str, Any] | None) -> str:
        """The result as the JSON text that is stored; ResultTooLargeError over the limit.

        Checked here, before the script runs, so a result that is too big never
        reaches Redis: the script would otherwise have to fail half-way.
        """
        if result is None:
            return ""
        text = json.dumps(as_json_object(result, "result"))
        size = len(text.encode())
        if size > MAX_RESULT_BYTES:
            raise ResultTooLargeError(
                f"the result is {size:,} bytes of JSON; the limit is {MAX_RESULT_BYTES:,}. "
                f"Write large outputs to a file and return its path")
        return text

    def mark_completed(self, task_id: str, result: dict[str, Any] | None = None, *,
                       worker_id: str | None = None, encoded: str | None = None) -> bool:
        """Record that ``task_id`` succeeded, with an optional JSON-ready result.

        Returns True if recorded (also when this is a resend of a completion that
        got through). Returns False, writes nothing and logs a warning if the task
        was no longer this worker's (the reaper gave it to another worker while
        this one was paused or cut off): the *fence* that makes a stale worker
        harmless. ``encoded`` is the result already passed through
        ``encode_result`` (the worker does that once). ResultTooLargeError, before
        anything is written, if the result is over ``MAX_RESULT_BYTES``.
        """
        recorded, _ = self.complete_and_claim(task_id, result, worker_id=worker_id,
                                              encoded=encoded, max_tasks=0)
        return recorded

    def complete_and_claim(self, task_id: str, result: dict[str, Any] | None = None, *,
                           worker_id: str | None = None, encoded: str | None = None,
                           max_tasks: int = 1) -> tuple[bool, list[Task]]:
        """``mark_completed``, then claim up to ``max_tasks`` more, in ONE round trip.

        What a busy worker does after each task: "this one is done, give me the
        next". Returns (recorded, the tasks claimed); no tasks if the queue is
        empty or paused, or if the completion was refused (then call ``get_tasks``).
        """
        text = self.encode_result(result) if encoded is None else encoded
        worker, attempt = self._owner(task_id, worker_id)
        if max_tasks:
            reply = self._call("complete_and_claim", worker, task_id, attempt, text,
                               self._result_ttl_ms, max_tasks, self.settings.heartbeat_ttl_ms,
                               keys=[self.keys.processing(worker), self.keys.heartbeat(worker),
                                     self.keys.task(task_id)])
        else:
            reply = self._call("complete", worker, task_id, attempt, text, self._result_ttl_ms,
                               keys=[self.keys.processing(worker), self.keys.task(task_id)])
        outcome = reply[0]
        if outcome == "refused":
            log.warning("queue %s: completion of task %s by %s REFUSED: the task is no longer "
                        "in that worker's list (it was declared dead and the task was requeued)",
                        self.queue_name, task_id, worker)
            return False, []
        if outcome == "completed" and len(reply) > 1 and reply[1] == "claimed":
            return True, self._tasks_from(worker, reply[1:])
        return True, []

    def complete_many(self, worker_id: str, done: Sequence[tuple[str, str]], *,
                      max_tasks: int = 0) -> tuple[list[bool], list[Task]]:
        """Record several successes of one worker in ONE round trip, then claim ``max_tasks``.

        ``done`` is ``[(task_id, encoded result), ...]`` (results from
        ``encode_result``). One "complete_batch" script call per ``COMPLETE_CHUNK``
        successes, all sent in one pipeline; each completion is fenced on its own,
        so one refused task does not affect the others. What a worker with a
        prefetched batch does at the end of the batch. Returns (recorded or not, per
        task; the tasks claimed).
        """
        if not done:
            return [], (self.get_tasks(worker_id, max_tasks, 0) if max_tasks else [])
        chunks = list(_chunks([(task_id, str(self._owner(task_id, worker_id)[1]), text)
                               for task_id, text in done], COMPLETE_CHUNK))

        def send() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for index, chunk in enumerate(chunks):
                task_keys = [self.keys.task(task_id) for task_id, _, _ in chunk]
                results = [value for task in chunk for value in task]
                if max_tasks and index == len(chunks) - 1:  # the last chunk also claims
                    self._call("complete_batch_and_claim", worker_id, self._result_ttl_ms,
                               max_tasks, self.settings.heartbeat_ttl_ms, *results,
                               keys=[self.keys.processing(worker_id),
                                     self.keys.heartbeat(worker_id), *task_keys], client=pipe)
                else:
                    self._call("complete_batch", worker_id, self._result_ttl_ms, *results,
                               keys=[self.keys.processing(worker_id), *task_keys], client=pipe)
            return pipe.execute()

        try:
            replies = send()
        except redis.exceptions.NoScriptError:  # a restarted server has forgotten the scripts
            for name in ("complete_batch", "complete_batch_and_claim"):
                self.client.script_load(COMMANDS[name].source)
            replies = send()  # (none of the calls ran: send them again)
        outcomes: list[str] = []
        for reply in replies:
            outcomes += reply[2:2 + int(reply[1])]
        recorded = [outcome != "refused" for outcome in outcomes]
        for ok, (task_id, _) in zip(recorded, done, strict=True):
            if not ok:
                log.warning("queue %s: completion of task %s by %s REFUSED: no longer its task",
                            self.queue_name, task_id, worker_id)
        last = replies[-1]
        claim = last[2 + int(last[1]):]
        claimed: list[Task] = []
        if claim and claim[0] == "claimed":
            claimed = self._tasks_from(worker_id, claim)
        return recorded, claimed

    def mark_failed(self, task_id: str, error: str, *, permanent: bool = False,
                    worker_id: str | None = None) -> str:
        """Record a failed attempt; the queue decides what happens next.

        Returns "retry" (scheduled in ``{q}:delayed`` after a backoff),
        "dead_lettered" (``permanent`` or no attempts left) or "refused" (the task
        was no longer this worker's; nothing written). Resending after a lost reply
        returns what the first call did.
        """
        if not isinstance(error, str):
            raise TypeError(f"error must be a message string, e.g. str(exc); got {type(error).__name__}")
        error = error if len(error) <= MAX_ERROR_CHARS else error[:MAX_ERROR_CHARS] + "..."
        worker, attempt = self._owner(task_id, worker_id)
        delay = backoff_delay(max(1, attempt), self.settings)
        entry = json.dumps({"attempt": attempt, "at": self.settings.clock(), "worker": worker,
                            "error": error, "permanent": permanent})
        reply = self._call("fail", worker, task_id, attempt, error, "1" if permanent else "0",
                           f"{delay:.3f}", entry,
                           keys=[self.keys.processing(worker), self.keys.task(task_id)])
        outcome = reply[0]
        if outcome == "already":
            outcome = reply[1]
        if outcome == "refused":
            log.warning("queue %s: failure of task %s by %s REFUSED: no longer its task",
                        self.queue_name, task_id, worker)
        return outcome

    def requeue(self, task_id: str, *, worker_id: str | None = None,
                reason: str = "worker stopped") -> bool:
        """Give a claimed task back unfinished (the attempt is not counted); True if done."""
        worker, _ = self._owner(task_id, worker_id)
        reply = self._call("requeue", worker, task_id, reason,
                           keys=[self.keys.processing(worker), self.keys.task(task_id)])
        return reply[0] in ("requeued", "already")

    def release_all(self, worker_id: str, reason: str = "worker stopped") -> int:
        """Requeue everything still in ``worker_id``'s list; how many (a clean exit leaves 0)."""
        released = 0
        for task_id in self.client.lrange(self.keys.processing(worker_id), 0, -1):
            self._claimed.pop(task_id, None)
            reply = self._call("requeue", worker_id, task_id, reason,
                               keys=[self.keys.processing(worker_id), self.keys.task(task_id)])
            released += reply[0] in ("requeued", "already")
        return released

    # --- heartbeats and recovery ---------------------------------------------

    def register_worker(self, worker_id: str) -> None:
        """First heartbeat of a worker, plus a ``worker_started`` event."""
        self._call("register", worker_id, self.settings.heartbeat_ttl_ms, os.getpid(),
                   socket.gethostname(), keys=[self.keys.heartbeat(worker_id)])

    def heartbeat(self, worker_id: str) -> bool:
        """Refresh ``worker_id``'s heartbeat; False if it had expired (we were taken for dead)."""
        reply = self._call("heartbeat", worker_id, self.settings.heartbeat_ttl_ms,
                           keys=[self.keys.heartbeat(worker_id)])
        return bool(int(reply[1]))

    def announce_stopping(self, worker_id: str) -> None:
        """Record a ``worker_stopping`` event (the worker finishes its task, then leaves)."""
        self._call("stopping", worker_id)

    def deregister_worker(self, worker_id: str) -> bool:
        """Remove a stopping worker from the registry (only if its list is empty)."""
        reply = self._call("deregister", worker_id,
                           keys=[self.keys.processing(worker_id), self.keys.heartbeat(worker_id)])
        return reply[0] == "deregistered"

    def unregistered_owners(self) -> list[str]:
        """Owners of processing lists that are missing from the registry: a full SCAN.

        Normally none: a worker registers in the same script that fills its list,
        and leaves the registry only with an empty list. Such a list appears only if
        someone deleted registry entries by hand. This walks the whole keyspace, so
        only ``sweep()`` and ``conservation(full=True)`` call it, never periodic work.
        """
        registered = set(self.client.zrange(self.keys.workers, 0, -1))
        found = {self.keys.worker_of(key)
                 for key in self.client.scan_iter(match=self.keys.processing_pattern, count=1000)}
        return sorted(found - registered)

    def reap(self, extra_workers: Sequence[str] = ()) -> list[Recovery]:
        """Hand the tasks of every registered worker whose heartbeat expired back to the queue.

        One atomic Lua call does the work (see queue.lua, "reap"), at a cost of one
        check per registered worker: no keyspace scan. What it did is returned and
        also recorded in the event stream (requeued, dead_lettered, worker_lost).
        Safe to run from any number of processes at once.
        """
        flat = self._call("reap", *extra_workers)[1:]
        return [Recovery(*flat[i:i + 3]) for i in range(0, len(flat), 3)]

    def sweep(self) -> list[Recovery]:
        """The full sweep: SCAN for processing lists outside the registry, and reap them too.

        O(keys), for a person (``reap --sweep`` on the command line) after someone
        edited the registry by hand; the periodic ``reap()`` never needs it.
        """
        owners = self.unregistered_owners()
        recovered = self.reap()
        for start in range(0, len(owners), COMMAND_CHUNK):  # a bounded number per call
            recovered += self.reap(owners[start:start + COMMAND_CHUNK])
        return recovered

    def promote_due(self, limit: int = 100) -> int:
        """Move the delayed tasks whose due time has passed (retries, and tasks added
        with ``run_at``/``delay``) from ``{q}:delayed`` to pending; how many."""
        return int(self._call("promote", limit)[1])

    def maintain(self) -> tuple[list[Recovery], int]:
        """The periodic chores: reap dead workers, promote due retries (both O(workers)),
        and forget finished tasks past their retention (``expire``, bounded per call)."""
        recovered, promoted = self.reap(), self.promote_due()
        self.expire()
        return recovered, promoted

    @property
    def _result_ttl_ms(self) -> int:
        """``result_ttl`` for the "complete" command: milliseconds, 0 to keep."""
        ttl = self.settings.result_ttl
        return 0 if ttl is None else max(1, round(ttl * 1000))

    def expire(self, limit: int = COMMAND_CHUNK) -> tuple[int, int]:
        """Forget the finished tasks past their retention, ``limit`` at most of each kind.

        Completed tasks go ``result_ttl`` after they completed (their hash expires by
        itself, this takes their id out of the lists), or beyond the newest
        ``keep_completed``; dead-lettered ones ``failure_ttl`` after they died (never,
        by default). They are counted as ``expired``. Returns (completed, dead-lettered)
        forgotten by this call; the workers' chores call it every ``reap_interval``.
        """
        def arg(value: float | int | None) -> str:
            return "" if value is None else repr(value)

        s = self.settings
        reply = self._call("expire", arg(s.result_ttl), arg(s.keep_completed),
                           arg(s.failure_ttl), limit)
        return int(reply[1]), int(reply[2])

    def workers(self) -> list[WorkerInfo]:
        """The registered workers with their heartbeat age and in-flight ids."""
        registered = self.client.zrange(self.keys.workers, 0, -1, withscores=True)
        pipe = self.client.pipeline(transaction=False)
        for worker, _ in registered:
            pipe.pttl(self.keys.heartbeat(worker))
            pipe.lrange(self.keys.processing(worker), 0, -1)
        replies = pipe.execute()
        infos = []
        for index, (worker, last_seen) in enumerate(registered):
            ttl_ms, ids = replies[2 * index], replies[2 * index + 1]
            infos.append(WorkerInfo(worker, float(last_seen),
                                    ttl_ms / 1000 if ttl_ms and ttl_ms > 0 else None,
                                    tuple(ids)))
        return infos

    # --- pause, resume, cancel ---------------------------------------------------

    def pause(self) -> bool:
        """Stop claims (tasks in flight finish normally); True if it was running. Event "paused"."""
        return bool(int(self._call("pause")[1]))

    def resume(self) -> bool:
        """Let claims happen again and wake the idle workers; True if it was paused."""
        return bool(int(self._call("resume")[1]))

    def is_paused(self) -> bool:
        return bool(self.client.exists(self.keys.paused))

    def cancel(self, task_id: str) -> bool:
        """Cancel a pending task: True if it was pending (now "cancelled", kept and counted)."""
        reply = self._call("cancel", task_id, keys=[self.keys.task(task_id)])
        return reply[0] == "cancelled"

    # --- the dead-letter queue -------------------------------------------------

    def dlq_ids(self, limit: int | None = None) -> list[str]:
        """Ids in the DLQ, newest first."""
        if limit == 0:
            return []
        return self.client.lrange(self.keys.dlq, 0, -1 if limit is None else limit - 1)

    def dlq_tasks(self, limit: int | None = None) -> list[Task]:
        """The dead-lettered tasks, newest first, with their reasons and error history."""
        return [task for task in (self._readable_task(i) for i in self.dlq_ids(limit)) if task]

    def _readable_task(self, task_id: str) -> Task | None:
        """``get_task_info``, but a record that cannot be read becomes a Task saying why.

        One hash edited by hand must not make the whole DLQ unlistable.
        """
        try:
            return self.get_task_info(task_id)
        except (ValueError, RecursionError, UnicodeDecodeError) as error:
            return Task(data={}, id=task_id, type="unknown", status=TaskStatus.DEAD_LETTERED,
                        reason=f"unreadable task record {self.keys.task(task_id)}: "
                               f"{type(error).__name__}: {str(error)[:200]}")

    def replay(self, task_id: str) -> bool:
        """Send one dead-lettered task back to pending with fresh attempts; False if not in the DLQ."""
        return self._call("replay", task_id, keys=[self.keys.task(task_id)])[0] == "replayed"

    def replay_all(self) -> int:
        """Replay every task in the DLQ, oldest first; how many.

        ``COMMAND_CHUNK`` ids read at a time, one short script call per task.
        """
        replayed = 0
        while True:
            oldest = self.client.lrange(self.keys.dlq, -COMMAND_CHUNK, -1)
            done = sum(self.replay(task_id) for task_id in reversed(oldest))
            replayed += done
            if len(oldest) < COMMAND_CHUNK or done == 0:
                return replayed

    def purge_dlq(self) -> int:
        """Delete every dead-lettered task for good; how many (``COMMAND_CHUNK`` per call)."""
        purged = 0
        while True:
            done = int(self._call("purge", COMMAND_CHUNK)[1])
            purged += done
            if done < COMMAND_CHUNK:
                return purged

    # --- reading ----------------------------------------------------------------

    def conservation(self, *, full: bool = False) -> Conservation:
        """Every count at one instant (one Lua call, O(workers)): the invariant check.

        ``full=True`` also counts processing lists outside the registry (a SCAN of
        the whole keyspace: for a person checking by hand, not for a loop).
        """
        extra = self.unregistered_owners() if full else []
        reply = self._call("counts", *extra)
        held, high, normal, low, delayed, completed, dead, cancelled, paused, expired = (
            int(n) for n in reply[1:11])
        in_flight = sum(int(n) for n in reply[12::2])
        return Conservation(enqueued=held + expired, pending=high + normal + low,
                            processing=in_flight, delayed=delayed, completed=completed,
                            dead_lettered=dead, cancelled=cancelled, expired=expired,
                            pending_by_priority=(high, normal, low), paused=bool(paused))

    def get_stats(self) -> dict[str, int]:
        """How many tasks are in each state, from the keys' own counts (ints).

        ``total`` adds the states up and ``enqueued`` is the number of tasks the
        queue holds: the two are equal (``conservation``). ``paused`` is 0 or 1.
        """
        c = self.conservation()
        high, normal, low = c.pending_by_priority
        return {"pending": c.pending, "pending_high": high, "pending_normal": normal,
                "pending_low": low, "processing": c.processing, "delayed": c.delayed,
                "completed": c.completed, "dead_lettered": c.dead_lettered,
                "cancelled": c.cancelled, "expired": c.expired, "total": c.accounted,
                "enqueued": c.enqueued,
                "workers": int(self.client.zcard(self.keys.workers)), "paused": int(c.paused)}

    def run_counts(self) -> dict[str, int]:
        """Task id -> how many times a worker started it, from ``settings.run_ledger``.

        Completions say what was recorded; this says what was *executed*. With no
        fault, every task runs once; each fault that hits a task (its worker killed
        or taken for dead) may add one run. {} when no ledger is set.
        """
        ledger = self.settings.run_ledger
        if ledger is None:
            return {}
        runs: dict[str, int] = {}
        for field in self.client.hkeys(ledger):  # "<task id> <run id>" -> worker id
            task_id = field.split(" ")[0]
            runs[task_id] = runs.get(task_id, 0) + 1
        return runs

    def get_task_info(self, task_id: str) -> Task | None:
        """The task ``task_id`` as stored now (with its result, if any); None if there is none.

        None too if its key holds something that is not a task hash (written by hand).
        """
        try:
            fields = self.client.hgetall(self.keys.task(task_id))
        except redis.ResponseError:
            return None
        if not fields:
            return None
        return Task.from_fields(fields)

    def get_result(self, task_id: str) -> dict[str, Any] | None:
        """The result stored by ``mark_completed``; None if there is none (yet)."""
        return decode_result(self.client.hget(self.keys.task(task_id), "result"))

    def events(self, count: int | None = 100, *, after: str | None = None,
               block_ms: int | None = None) -> list[Event]:
        """Events in order: the last ``count`` (None: all kept), or those after stream id ``after``.

        ``block_ms`` (with ``after``): when nothing newer is there yet, wait up to that
        long for it (``XREAD BLOCK``) instead of answering at once: how a follower keeps
        up without polling. The client's read timeout must exceed the wait.
        """
        if block_ms and after is not None:
            replies = self.client.xread({self.keys.events: after}, count=count, block=block_ms)
            entries = replies[0][1] if replies else []
        elif after is not None:
            entries = self.client.xrange(self.keys.events, min=f"({after}", count=count)
        else:
            entries = list(reversed(self.client.xrevrange(self.keys.events, count=count)))
        return [Event.from_entry(entry_id, raw) for entry_id, raw in entries]

    def event_bounds(self) -> tuple[str, str] | None:
        """``(oldest kept, newest ever)`` stream ids of the event stream; None if it was never written.

        The stream is capped, so the oldest entry it still holds tells a reader that
        fell behind whether entries after its position were trimmed away; the newest
        id it ever gave out (kept even when the stream is emptied) is a fence: what
        happens later gets a larger id.
        """
        try:
            info = self.client.xinfo_stream(self.keys.events)
        except redis.ResponseError:  # no stream yet
            return None
        newest = info.get("last-generated-id") or "0-0"
        first = info.get("first-entry")
        return (first[0] if first else newest), newest

    def list_ids(self, state: TaskStatus | str, limit: int | None = None) -> list[str]:
        """Ids in one state: pending (high, then normal, then low), dead_lettered and
        cancelled newest first (as LRANGE shows them), delayed by due time, completed
        oldest first, processing for every registered worker."""
        state = TaskStatus(str(state))
        if limit == 0:
            return []
        end = -1 if limit is None else limit - 1
        if state is TaskStatus.DELAYED:
            ids = self.client.zrange(self.keys.delayed, 0, end)
        elif state in (TaskStatus.PROCESSING, TaskStatus.PENDING):
            ids = []
            if state is TaskStatus.PROCESSING:
                for info in self.workers():
                    ids.extend(info.in_flight)
            else:
                for priority in PRIORITIES:
                    ids.extend(self.client.lrange(self.keys.pending_list(priority), 0, end))
            ids = ids if limit is None else ids[:limit]
        else:
            key = {TaskStatus.COMPLETED: self.keys.completed,
                   TaskStatus.DEAD_LETTERED: self.keys.dlq,
                   TaskStatus.CANCELLED: self.keys.cancelled}[state]
            ids = self.client.lrange(key, 0, end)
        return ids

    def locate(self, task_id: str) -> list[str]:
        """Every place ``task_id`` is, e.g. ``["pending"]`` or ``["processing:worker-1"]``.

        Exactly one place, always (the conservation invariant, for one task); a
        list so that a bug that puts a task in two places shows up. Places are
        pending, pending:high, pending:low, delayed, completed, dead_lettered,
        cancelled and processing:<worker> (registered workers).
        """
        places: list[str] = []
        for name, key in (("pending:high", self.keys.pending_high), ("pending", self.keys.pending),
                          ("pending:low", self.keys.pending_low),
                          ("completed", self.keys.completed), ("dead_lettered", self.keys.dlq),
                          ("cancelled", self.keys.cancelled)):
            places += [name] * len(self.client.lpos(key, task_id, count=0) or [])
        if self.client.zscore(self.keys.delayed, task_id) is not None:
            places.append("delayed")
        for worker in sorted(set(self.client.zrange(self.keys.workers, 0, -1))):
            found = self.client.lpos(self.keys.processing(worker), task_id, count=0) or []
            places += [f"processing:{worker}"] * len(found)
        return places

    def is_drained(self) -> bool:
        """Nothing pending, in flight or waiting for a retry (O(workers))."""
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
        """Delete this queue's keys (and nobody else's); how many. Never FLUSHDB.

        Walks the keyspace (SCAN) for the per-task and per-worker keys: an explicit
        clean-up for tests and demos, not something a loop runs.
        """
        keys = list(self.keys.fixed())
        for pattern in self.keys.patterns():
            keys.extend(self.client.scan_iter(match=pattern, count=1000))
        deleted = 0
        # In batches, and UNLINK, not DEL: the server frees a big list in the background
        # instead of blocking every client while it does.
        for start in range(0, len(keys), COMMAND_CHUNK):
            deleted += self.client.unlink(*keys[start:start + COMMAND_CHUNK])
        self._claimed.clear()
        return deleted

    def __len__(self) -> int:
        """The number of pending tasks (all priorities)."""
        pipe = self.client.pipeline(transaction=False)
        for priority in PRIORITIES:
            pipe.llen(self.keys.pending_list(priority))
        return sum(int(n) for n in pipe.execute())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(queue_name={self.queue_name!r})"
