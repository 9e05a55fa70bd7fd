"""A task queue that lives in Redis, so workers in other processes and machines share it.

The methods are the ones of session 1's in-memory ``TaskQueue`` (``add_task``,
``get_task``, ``mark_completed``, ``mark_failed``, ``get_stats``), so moving a
program to Redis is a change of class. What changes underneath:

- the state is in Redis (keys listed in ``keys.py``), not in this process: any
  process that can reach the server sees the same queue, and it survives a
  restart of the workers;
- a claim is one atomic Redis command, ``BLMOVE pending processing RIGHT LEFT``:
  the server moves the oldest id into the processing list and hands it to
  exactly one worker, waiting (blocking, not polling) until there is one. Ids
  go in with ``LPUSH`` at the left and come out at the right, so the order is
  FIFO;
- writes that belong together go to Redis in one ``MULTI``/``EXEC`` transaction,
  sent in one round trip: nobody ever sees a task in two lists or in none, and
  a task costs about three round trips (claim, read-and-mark, finish).

Tasks are JSON (never pickle): any language can read them with ``redis-cli``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import redis

from session1_basics.task import InvalidTransitionError, Task, TaskStatus, as_json_object

from .keys import STATES, QueueKeys
from .redis_connection import HOW_TO_GET_REDIS, RedisUnavailableError, redact

DEFAULT_QUEUE_NAME = "image_processing"


class TaskNotFoundError(KeyError):
    """No task with this id is stored under this queue's name."""

    def __init__(self, task_id: str, queue_name: str) -> None:
        super().__init__(task_id)
        self.task_id = task_id
        self.queue_name = queue_name

    def __str__(self) -> str:
        return (f"no task with id {self.task_id!r} in queue {self.queue_name!r}. Use the id "
                f"that add_task() returned (or the .id of a task from get_task()); "
                f"`python -m session4_redis.workers stats` shows the queue's counts")


def connection_help(url: str | None, error: BaseException) -> RedisUnavailableError:
    """One clear error for "Redis is not there", with the three ways to get one."""
    where = redact(url) if url else "the configured host and port"
    return RedisUnavailableError(f"Cannot connect to Redis at {where}: {error}\n{HOW_TO_GET_REDIS}")


# Our clients read replies as text. Bytes that are not UTF-8 (pushed by hand with
# redis-cli?) become escape characters instead of an error, and are written back as
# the same bytes: such an id is then an unknown id like any other, failed by _start.
TEXT_REPLIES = {"decode_responses": True, "encoding_errors": "surrogateescape"}


def _text(value: Any) -> Any:
    """Redis replies are bytes unless the client has decode_responses=True; we accept both."""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _result_fields(result: Any) -> dict[str, str]:
    """A result as the hash fields it is stored in: each value as JSON, encoded once.

    The common case (a dict with text keys and JSON values) costs one ``json.dumps``
    per value; anything else goes through ``as_json_object`` for its clear error.
    """
    if isinstance(result, dict) and all(isinstance(key, str) for key in result):
        try:
            return {key: json.dumps(value, allow_nan=False) for key, value in result.items()}
        except (TypeError, ValueError):
            pass  # as_json_object explains what is wrong
    return {key: json.dumps(value) for key, value in as_json_object(result, "result").items()}


def _float(value: Any) -> float | None:
    return None if value is None else float(_text(value))


class RedisTaskQueue:
    """A FIFO task queue stored in Redis under ``queue_name``.

    Give it a ``client`` (any ``redis.Redis``, fakeredis included, with or
    without ``decode_responses``), a ``url`` (``redis://host:port/db``, also
    ``rediss://`` and passwords), or ``host``/``port``/``db``. ``clock`` stamps
    the tasks' times; pass a fake one in tests.

    redis-py connects lazily, on the first command: use ``RedisTaskQueue.connect``
    (or call ``check_connection()``) to find out at once whether Redis is there.
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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = QueueKeys(queue_name)
        self._url = url
        self._owns_client = client is None
        if client is None:
            client = (redis.Redis.from_url(url, **TEXT_REPLIES) if url
                      else redis.Redis(host=host, port=port, db=db, **TEXT_REPLIES))
        self.client = client
        self._clock = clock
        # Ids this object claimed and has not finished yet. It claimed them with an
        # atomic move, so finishing them needs no extra check (see _check_processing).
        self._claimed: set[str] = set()

    @classmethod
    def connect(cls, url: str | None = None, *, queue_name: str = DEFAULT_QUEUE_NAME,
                clock: Callable[[], float] = time.time, **client_kwargs: Any) -> RedisTaskQueue:
        """A queue on ``url`` whose connection is checked now (RedisUnavailableError if down)."""
        url = url or "redis://localhost:6379/0"
        client = redis.Redis.from_url(url, **{**TEXT_REPLIES, **client_kwargs})
        queue = cls(client=client, queue_name=queue_name, clock=clock)
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
            raise connection_help(self._url or self._address(), error) from None

    def _address(self) -> str | None:
        """``redis://host:port/db`` of the client, for messages (None if it cannot tell)."""
        kwargs = getattr(getattr(self.client, "connection_pool", None), "connection_kwargs", {})
        if "host" not in kwargs:
            return None
        return f"redis://{kwargs['host']}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"

    def close(self) -> None:
        """Close the connection, if this queue opened it."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> RedisTaskQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- producers ---------------------------------------------------------

    def add_task(self, data: dict[str, Any]) -> str:
        """Queue the work described by ``data`` (a JSON-ready dict) and return its id at once."""
        return self.add_tasks([data])[0]

    def add_tasks(self, items: Iterable[dict[str, Any]]) -> list[str]:
        """Queue many tasks in one round trip; return their ids in the same order.

        Every item is checked first, so one bad item queues nothing. Then the
        hashes and one ``LPUSH`` with all the ids go in a single transaction.
        """
        tasks = [self._new_task_fields(data, index) for index, data in enumerate(items)]
        if not tasks:
            return []
        pipe = self.client.pipeline()  # transaction=True: MULTI ... EXEC
        for fields in tasks:
            # The hash first: a worker that sees the id must find the task.
            pipe.hset(self.keys.task(fields["id"]), mapping=fields)
        # LPUSH a b c leaves c at the left: the first item stays first out (at the right).
        pipe.lpush(self.keys.pending, *(fields["id"] for fields in tasks))
        pipe.execute()
        return [fields["id"] for fields in tasks]

    def _new_task_fields(self, data: Any, index: int = 0) -> dict[str, str]:
        """Check ``data`` and make the hash of a new pending task (a new id included).

        Subclasses that queue tasks differently (priorities, for example) use it
        too, so every task hash looks the same.
        """
        what = "task data" if index == 0 else f"task data (item {index})"
        data = as_json_object(data, what)  # TypeError with a clear message if not JSON
        task_id = uuid.uuid4().hex
        # No "attempts" field yet: the first claim's HINCRBY creates it (from 0).
        # Fewer fields to send is what makes bulk adds fast.
        return {
            "id": task_id,
            "data": json.dumps(data),
            "status": TaskStatus.PENDING.value,
            "created_at": repr(self._clock()),
        }

    # --- workers -----------------------------------------------------------

    def get_task(self, worker_id: str, timeout: float | None = 5.0) -> Task | None:
        """Claim the oldest pending task for ``worker_id``, waiting for one if needed.

        ``timeout`` seconds at most; ``0`` does not wait (``LMOVE``); ``None``
        waits as long as it takes. Returns the claimed Task (status PROCESSING)
        or None if the time ran out.
        """
        if not isinstance(worker_id, str) or not worker_id:
            raise TypeError(f"worker_id must be a non-empty string naming the worker, "
                            f"e.g. 'worker-1'; got {worker_id!r}")
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout >= 0):
            raise ValueError(f"timeout must be a number of seconds >= 0, or None to wait "
                             f"without limit; got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        remaining = timeout
        while True:
            task_id = self._claim_id(remaining)
            if task_id is None:
                return None
            task = self._start(task_id, worker_id)
            if task is not None:
                return task
            # A broken entry (see _start) was marked failed: claim the next one
            # with whatever is left of the timeout.
            if deadline is not None:
                remaining = max(0.0, deadline - time.monotonic())

    def _claim_id(self, timeout: float | None) -> str | None:
        """Atomically move the oldest pending id to the processing list and return it."""
        if timeout == 0:
            task_id = self.client.lmove(self.keys.pending, self.keys.processing, "RIGHT", "LEFT")
        else:
            # The server parks this connection until an id arrives or the time is up:
            # no polling, and two workers can never get the same id. Redis reads 0 as
            # "wait forever", which is what timeout=None means.
            task_id = self.client.blmove(self.keys.pending, self.keys.processing,
                                         timeout or 0, "RIGHT", "LEFT")
        return _text(task_id)

    def _start(self, task_id: str, worker_id: str) -> Task | None:
        """Mark a claimed id as processing and read its task, in one round trip."""
        key = self.keys.task(task_id)
        # No MULTI needed: the atomic claim made this worker the only writer of
        # this hash until it finishes the task. A plain pipeline is one round trip.
        started = self._clock()
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(key, mapping={"status": TaskStatus.PROCESSING.value, "worker_id": worker_id,
                                "started_at": repr(started)})
        pipe.hincrby(key, "attempts", 1)  # counted at the claim, as in session 1
        # Only what we do not know already: we hold the id, and just wrote status,
        # worker and start time.
        pipe.hmget(key, "data", "created_at")
        self._claimed.add(task_id)
        _, attempts, (data, created_at) = pipe.execute()
        try:
            if data is None:
                raise KeyError("data")
            return Task(data=json.loads(_text(data)), id=task_id,
                        status=TaskStatus.PROCESSING, attempts=int(attempts),
                        created_at=_float(_text(created_at)), started_at=started,
                        worker_id=worker_id)
        except (KeyError, ValueError, TypeError) as error:
            # An id without a readable task, e.g. pushed by hand with redis-cli:
            # record why, so it is visible in the failed list, and move on.
            self.mark_failed(task_id, f"unreadable task stored at {key!r}: {error!r}; "
                                      f"add tasks with add_task(), not by pushing ids by hand")
            return None

    def mark_completed(self, task_id: str, result: dict[str, Any] | None = None) -> None:
        """Record that the claimed task ``task_id`` succeeded, with an optional JSON-ready result.

        The result is stored in its own hash, one field per key, each value as
        JSON (so ``HGETALL`` in redis-cli shows it readably). An empty result
        stores nothing.
        """
        fields = None if result is None else _result_fields(result)
        self._check_processing(task_id, TaskStatus.COMPLETED)
        pipe = self.client.pipeline()
        pipe.lrem(self.keys.processing, 1, task_id)
        pipe.lpush(self.keys.completed, task_id)
        pipe.hset(self.keys.task(task_id), mapping={
            "status": TaskStatus.COMPLETED.value, "finished_at": repr(self._clock())})
        if fields:
            pipe.hset(self.keys.result(task_id), mapping=fields)
        pipe.execute()
        self._claimed.discard(task_id)

    def mark_failed(self, task_id: str, error: str) -> None:
        """Record that the claimed task ``task_id`` failed, and why (a message string)."""
        if not isinstance(error, str):
            raise TypeError(f"error must be a message string, e.g. str(exc) or repr(exc); "
                            f"got {type(error).__name__}")
        self._check_processing(task_id, TaskStatus.FAILED)
        pipe = self.client.pipeline()
        pipe.lrem(self.keys.processing, 1, task_id)
        pipe.lpush(self.keys.failed, task_id)
        pipe.hset(self.keys.task(task_id), mapping={
            "status": TaskStatus.FAILED.value, "error": error,
            "finished_at": repr(self._clock())})
        pipe.execute()
        self._claimed.discard(task_id)

    def _check_processing(self, task_id: str, finishing_as: TaskStatus) -> None:
        """Refuse to finish a task that is not being processed.

        A task this object claimed is known to be in processing: no round trip.
        Any other id (finished from another process, or by hand) costs one read.
        This check and the write after it are two steps, so two processes
        finishing the same task at the same moment could both pass it: session 5
        closes that gap with per-worker lists and an atomic check-and-move script.
        """
        if task_id in self._claimed:
            return
        status = _text(self.client.hget(self.keys.task(task_id), "status"))
        if status is None:
            raise TaskNotFoundError(task_id, self.queue_name)
        if status != TaskStatus.PROCESSING.value:
            raise InvalidTransitionError(
                status, finishing_as, task_id,
                hint="Only a claimed task can be finished: claim it with get_task(worker_id) "
                     "first; a finished task is completed or failed once")

    # --- anyone ------------------------------------------------------------

    def get_stats(self) -> dict[str, int]:
        """How many task ids are in each list, and in total.

        The four lengths are read in one transaction, so they describe one
        instant: a task moving from processing to completed is never counted
        twice or missed. The lists are the only source of truth for counts.
        """
        pipe = self.client.pipeline()
        for state in STATES:
            pipe.llen(self.keys.state(state))
        counts = dict(zip(STATES, (int(n) for n in pipe.execute()), strict=True))
        counts["total"] = sum(counts.values())
        return counts

    def get_task_info(self, task_id: str) -> Task | None:
        """The task ``task_id`` as stored now (with its result, if any); None if there is none."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.task(task_id))
        pipe.hgetall(self.keys.result(task_id))
        fields, result = pipe.execute()
        if not fields:
            return None
        return self._task_from_fields(task_id, fields, self._decode_result(result),
                                      require_data=False)

    def get_result(self, task_id: str) -> dict[str, Any] | None:
        """The result stored by ``mark_completed``; None if there is none (yet)."""
        return self._decode_result(self.client.hgetall(self.keys.result(task_id)))

    def list_ids(self, state: TaskStatus | str, limit: int | None = None) -> list[str]:
        """Ids in the ``state`` list, as ``LRANGE`` shows them: newest first.

        For ``pending`` that means the next task to run is the *last* one.
        """
        end = -1 if limit is None else limit - 1
        if limit == 0:
            return []
        return [_text(i) for i in self.client.lrange(self.keys.state(str(state)), 0, end)]

    def join(self, timeout: float | None = None, *, poll_interval: float = 0.05,
             sleep: Callable[[float], None] = time.sleep) -> bool:
        """Wait until nothing is pending or processing; True if so, False on timeout.

        Redis has no "wait until this list is empty" command, so unlike session
        1's condition variable this checks the counts every ``poll_interval``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            stats = self.get_stats()
            if stats["pending"] + stats["processing"] == 0:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            sleep(poll_interval)

    def clear(self) -> int:
        """Delete this queue's keys (and nobody else's); return how many were deleted.

        For demos and tests. Never FLUSHDB: the server may hold other people's data.
        """
        keys = [self.keys.state(state) for state in STATES]
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

    # --- conversions -------------------------------------------------------

    @staticmethod
    def _decode_result(fields: dict[Any, Any]) -> dict[str, Any] | None:
        if not fields:
            return None
        return {_text(key): json.loads(_text(value)) for key, value in fields.items()}

    @staticmethod
    def _task_from_fields(task_id: str, raw: dict[Any, Any],
                          result: dict[str, Any] | None = None, *,
                          require_data: bool = True) -> Task:
        """Build a Task from its hash (KeyError/ValueError if the hash is not a task).

        ``require_data=False`` is for inspection: a broken entry that was marked
        failed has no data, and is shown with ``data={}``.
        """
        fields = {_text(key): _text(value) for key, value in raw.items()}
        data = json.loads(fields["data"]) if require_data or "data" in fields else {}
        return Task(
            data=data,
            id=fields.get("id", task_id),
            status=TaskStatus(fields["status"]),
            attempts=int(fields.get("attempts", 0)),
            created_at=_float(fields.get("created_at")),
            started_at=_float(fields.get("started_at")),
            finished_at=_float(fields.get("finished_at")),
            worker_id=fields.get("worker_id"),
            result=result,
            error=fields.get("error"),
        )
