"""Run each engine's own worker command on its own namespace, and ask it what happened.

One ``Runner`` per engine, all with the same small interface, so the comparison
and the tests treat Dramatiq, RQ, Celery, our Streams consumer and session 5 alike:

- ``start(processes)``: start the engine's worker command(s) as subprocesses from
  this virtualenv and wait until a warm-up task has run (no sleeping and hoping);
- ``enqueue(task_id, data)``; ``runs(task_id)``: the starts of the task (time, pid);
- ``ended(task_id)``: where it ended (``completed``, the engine's failure place) or None;
- ``supervise()``: restart worker commands that exited, as systemd would;
- ``close()``: stop every process we started and delete only our own keys.

Every key a runner writes is under its namespace ``s7-<random>`` (RQ's under
``RQ_KEY_PREFIX``, session 5's under its queue name), so nothing else on a shared
Redis is touched, and nothing is flushed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import redis

from . import settings
from .rabbitmq import ENV_AMQP_URL, Admin, amqp_url
from .work import ENV_ALLOWED_DIR, ENV_NAMESPACE, ENV_REDIS_URL, Ledger

# RQ reads its key prefix once, when it is imported: set ours first (unless told otherwise).
RQ_PREFIX = os.environ.setdefault("RQ_KEY_PREFIX", f"s7rq-{uuid.uuid4().hex[:8]}")
BIN = Path(sys.executable).parent
START_TIMEOUT = 90.0  # a worker command on a loaded 2-core machine can take a while to start


def command(name: str) -> str:
    """An engine's command from this virtualenv (``.venv/bin/celery``)."""
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{name} is not installed in {BIN}: run make install "
                           f"(requirements.txt lists dramatiq, rq and celery)")
    return str(path)


class Runner:
    """What every engine runner shares: the namespace, the ledger and the processes."""

    engine = "?"

    def __init__(self, redis_url: str, workdir: Path, *, profile: str = "recommended") -> None:
        self.redis_url, self.workdir, self.profile = redis_url, Path(workdir), profile
        self.namespace = f"s7-{uuid.uuid4().hex[:10]}"
        self.queue = f"{self.namespace}-q"
        self.client = redis.Redis.from_url(redis_url, decode_responses=True)
        self.ledger = Ledger(self.client, self.namespace)
        self.processes: list[subprocess.Popen] = []
        self.commands: list[list[str]] = []
        self.restarts = 0
        self._warmups = 0
        self._spawned = 0

    def env(self) -> dict[str, str]:
        return {**os.environ, ENV_REDIS_URL: self.redis_url, ENV_NAMESPACE: self.namespace,
                ENV_ALLOWED_DIR: str(self.workdir), settings.ENV_QUEUE: self.queue,
                settings.ENV_PROFILE: self.profile, "RQ_KEY_PREFIX": RQ_PREFIX,
                "PYTHONUNBUFFERED": "1"}

    def worker_commands(self, processes: int) -> list[list[str]]:
        raise NotImplementedError

    def _spawn(self, argv: list[str]) -> subprocess.Popen:
        self._spawned += 1
        name = f"{self.engine.split()[0]}-{self.namespace}-{self._spawned}.log"
        log = open(self.workdir / name, "wb")  # the child keeps its own copy of the file
        # A session of its own: close() can kill the command and every child it forked.
        process = subprocess.Popen(argv, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, cwd=self.workdir)
        log.close()
        return process

    def start(self, processes: int = 1) -> None:
        self.commands = self.worker_commands(processes)
        self.processes = [self._spawn(argv) for argv in self.commands]
        self.warm_up()

    def warm_up(self) -> None:
        """Run one noop task through the engine: then its workers are really up."""
        self._warmups += 1
        task_id = f"warmup-{self.namespace}-{self._warmups}"
        self.enqueue(task_id, {"type": "noop"})
        deadline = time.monotonic() + START_TIMEOUT
        while self.ended(task_id) != "completed":
            dead = [p.args for p in self.processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"{self.engine} workers did not run a warm-up task within "
                                   f"{START_TIMEOUT:.0f} s (exited: {dead}); see the logs in "
                                   f"{self.workdir}")
            time.sleep(0.05)

    def completed_count(self) -> int:
        """Tasks finished so far, warm-ups excluded."""
        return self.ledger.done_count() - self._warmups

    def runs(self, task_id: str) -> list[tuple[float, int]]:
        return self.ledger.starts(task_id)

    def holder_pid(self, task_id: str) -> int | None:
        """The process running ``task_id`` now (the one to kill), if it started."""
        starts = self.runs(task_id)
        return starts[-1][1] if starts else None

    def enqueue(self, task_id: str, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def enqueue_many(self, items: Iterable[tuple[str, dict[str, Any]]]) -> None:
        for task_id, data in items:
            self.enqueue(task_id, data)

    def ended(self, task_id: str) -> str | None:
        raise NotImplementedError

    def supervise(self) -> int:
        """Restart every worker command that has exited; how many were restarted."""
        restarted = 0
        for n, process in enumerate(self.processes):
            if process.poll() is not None:
                self.processes[n] = self._spawn(self.commands[n])
                restarted += 1
        self.restarts += restarted
        return restarted

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM each command's process group (finish, then exit); SIGKILL what is left."""
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # children that outlived their parent
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)

    def own_keys(self) -> list[str]:
        return list(self.client.scan_iter(match=f"{self.namespace}*", count=1000))

    def close(self) -> None:
        self.stop()
        keys = self.own_keys()
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start:start + 500])
        self.client.close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class DramatiqRunner(Runner):
    engine = "dramatiq"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from .dramatiq_app import make_broker

        self.broker = make_broker(self.redis_url, self.namespace, self.profile)

    def worker_commands(self, processes: int) -> list[list[str]]:
        return [[command("dramatiq"), "session7_engines.dramatiq_app", "--processes",
                 str(processes), "--threads", "1", "--queues", self.queue]]

    def enqueue(self, task_id: str, data: dict[str, Any]) -> None:
        import dramatiq

        from .dramatiq_app import ACTOR_NAME

        message = dramatiq.Message(queue_name=self.queue, actor_name=ACTOR_NAME,
                                   args=(task_id, data), kwargs={}, options={})
        self.broker.enqueue(message)

    def ended(self, task_id: str) -> str | None:
        if task_id in self.ledger.done_ids():
            return "completed"
        dead = self.client.hvals(f"{self.namespace}:dramatiq:{self.queue}.XQ.msgs")
        if any(json.loads(m)["args"][0] == task_id for m in dead):
            return "dead-letter queue (XQ)"
        return None

    def close(self) -> None:
        super().close()
        self.broker.close()


class RQRunner(Runner):
    engine = "rq"

    def worker_commands(self, processes: int) -> list[list[str]]:
        return [[command("rq"), "worker", "--with-scheduler", "--url", self.redis_url,
                 "--serializer", "rq.serializers.JSONSerializer", "--name",
                 f"{self.namespace}-{n}", "--quiet", self.queue] for n in range(processes)]

    def job_id(self, task_id: str) -> str:
        """RQ's id for our task: under the namespace, so every key of this run names it."""
        return task_id if task_id.startswith(self.namespace) else f"{self.namespace}-{task_id}"

    def _queue(self) -> Any:
        from rq import Queue
        from rq.serializers import JSONSerializer

        raw = redis.Redis.from_url(self.redis_url)
        return Queue(self.queue, connection=raw, serializer=JSONSerializer)

    def enqueue(self, task_id: str, data: dict[str, Any]) -> None:
        from rq import Retry

        from .rq_jobs import retry_intervals

        options: dict[str, Any] = {"job_id": self.job_id(task_id),
                                   "job_timeout": settings.TIME_LIMIT_S}
        if self.profile == "recommended":
            options["retry"] = Retry(max=settings.MAX_RETRIES, interval=retry_intervals())
        self._queue().enqueue("session7_engines.rq_jobs.image_job", task_id, data, **options)

    def ended(self, task_id: str) -> str | None:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job, JobStatus
        from rq.serializers import JSONSerializer

        try:
            job = Job.fetch(self.job_id(task_id), connection=redis.Redis.from_url(self.redis_url),
                            serializer=JSONSerializer)
        except NoSuchJobError:
            return None
        status = job.get_status()
        if status == JobStatus.FINISHED:
            return "completed"
        if status == JobStatus.FAILED:
            return "failed job registry"
        return None

    def own_keys(self) -> list[str]:
        keys = super().own_keys()
        if RQ_PREFIX.startswith("s7rq-"):  # never touch keys under a prefix we did not make
            keys += [k for k in self.client.scan_iter(match=f"{RQ_PREFIX}:*", count=1000)
                     if self.namespace in k]
        return keys

    def close(self) -> None:
        super().close()
        if not RQ_PREFIX.startswith("s7rq-"):
            return
        with redis.Redis.from_url(self.redis_url, decode_responses=True) as client:
            for shared in (f"{RQ_PREFIX}:queues", f"{RQ_PREFIX}:workers"):
                members = [m for m in client.smembers(shared) if self.namespace in m]
                if members:
                    client.srem(shared, *members)
            # RQ's few shared keys under our prefix go with the last run of this process.
            left = list(client.scan_iter(match=f"{RQ_PREFIX}:*", count=1000))
            if all(k.rsplit(":", 1)[-1] in ("clean_groups", "queues", "workers") for k in left):
                if left:
                    client.delete(*left)


class CeleryRunner(Runner):
    engine = "celery"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from .celery_app import make_app

        self.app = make_app(self.redis_url, self.namespace, self.profile)

    def worker_commands(self, processes: int) -> list[list[str]]:
        return [[command("celery"), "-A", "session7_engines.celery_app", "worker", "-Q",
                 self.queue, "-c", str(processes), "-P", "prefork", "-n",
                 f"{self.namespace}@%h", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "--loglevel", "WARNING"]]

    def enqueue(self, task_id: str, data: dict[str, Any]) -> None:
        from .celery_app import TASK_NAME

        self.app.send_task(TASK_NAME, args=[task_id, data], queue=self.queue, task_id=task_id)

    def ended(self, task_id: str) -> str | None:
        state = self.app.AsyncResult(task_id).state
        if state == "SUCCESS":
            return "completed"
        if state == "FAILURE":
            return "FAILURE in the result backend"
        return None

    def close(self) -> None:
        super().close()
        self.app.close()


class StreamsRunner(Runner):
    engine = "streams"

    def __init__(self, *args: Any, min_idle_ms: int | None = None,
                 max_deliveries: int = settings.MAX_RETRIES, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from .streams import StreamQueue

        self.min_idle_ms = min_idle_ms or int(settings.DEAD_WORKER_TIMEOUT_S * 1000)
        self.max_deliveries = max_deliveries
        self.name = f"{self.namespace}:streams"
        self.streams = StreamQueue(self.client, self.name, min_idle_ms=self.min_idle_ms,
                                   max_deliveries=max_deliveries)

    def worker_commands(self, processes: int) -> list[list[str]]:
        return [[sys.executable, "-m", "session7_engines.streams_worker", "--redis-url",
                 self.redis_url, "--name", self.name, "--consumer", f"c{n}",
                 "--min-idle-ms", str(self.min_idle_ms), "--max-deliveries",
                 str(self.max_deliveries)] for n in range(processes)]

    def supervise(self) -> int:
        # A restarted consumer gets a new name: the dead one's entries stay pending under
        # the old name until the reaper (XAUTOCLAIM) takes them, as after a real crash.
        for n, process in enumerate(self.processes):
            if process.poll() is not None:
                self.commands[n][self.commands[n].index("--consumer") + 1] += "r"
        return super().supervise()

    def enqueue(self, task_id: str, data: dict[str, Any]) -> None:
        self.streams.add(task_id, data)

    def ended(self, task_id: str) -> str | None:
        if task_id in self.client.lrange(self.streams.done, 0, -1):
            return "completed"
        if any(f.get("task_id") == task_id for _, f in self.client.xrange(self.streams.dead)):
            return "dead-letter stream"
        return None


class Session5Runner(Runner):
    """Our own queue from session 5, imported as a package; its worker command is its CLI."""

    engine = "session5"

    def __init__(self, *args: Any, prefetch: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from session5_recovery.workers import RecoverySettings, RedisTaskQueue

        self.prefetch = prefetch
        self.engine = "session5" if prefetch == 1 else f"session5 prefetch={prefetch}"
        ttl = settings.DEAD_WORKER_TIMEOUT_S
        self.heartbeat = (ttl / 6, ttl)  # interval, TTL
        # max_attempts and the backoff are stored on each task when it is enqueued.
        self.settings = RecoverySettings(
            heartbeat_interval=ttl / 6, heartbeat_ttl=ttl, max_attempts=settings.MAX_RETRIES,
            backoff_base=settings.MIN_BACKOFF_S, backoff_cap=settings.MAX_BACKOFF_S)
        self.s5 = RedisTaskQueue(url=self.redis_url, queue_name=f"{self.namespace}-s5",
                                 settings=self.settings)
        self.ids: dict[str, str] = {}  # our task id -> session 5's
        self.pids: dict[str, int] = {}  # worker id -> pid, every worker ever started
        self._started = 0

    def worker_commands(self, processes: int) -> list[list[str]]:
        return [self._command() for _ in range(processes)]

    def _command(self) -> list[str]:
        self._started += 1
        argv = [sys.executable, "-m", "session5_recovery.workers", "worker", "--redis-url",
                self.redis_url, "--queue", self.s5.queue_name, "--id",
                f"{self.namespace}-w{self._started}", "--allow", str(self.workdir),
                "--heartbeat-interval", f"{self.heartbeat[0]:g}",
                "--heartbeat-ttl", f"{self.heartbeat[1]:g}", "--quiet"]
        if self.prefetch != 1:
            argv += ["--prefetch", str(self.prefetch)]
        return argv

    def _spawn(self, argv: list[str]) -> subprocess.Popen:
        process = super()._spawn(argv)
        self.pids[argv[argv.index("--id") + 1]] = process.pid
        return process

    def supervise(self) -> int:
        # A restarted worker gets a new id, as a new process would: the dead one is reaped.
        for n, process in enumerate(self.processes):
            if process.poll() is not None:
                self.commands[n] = self._command()
        return super().supervise()

    def enqueue(self, task_id: str, data: dict[str, Any]) -> None:
        self.ids[task_id] = self.s5.add_task(data)

    def enqueue_many(self, items: Iterable[tuple[str, dict[str, Any]]]) -> None:
        items = list(items)
        for (task_id, _), s5_id in zip(items, self.s5.add_tasks([d for _, d in items]),
                                      strict=True):
            self.ids[task_id] = s5_id

    def completed_count(self) -> int:
        return int(self.s5.get_stats()["completed"]) - self._warmups

    def runs(self, task_id: str) -> list[tuple[float, int]]:
        s5_id = self.ids.get(task_id)
        return [(e.ts, self.pids.get(e.worker_id or "", -1)) for e in self.s5.events(None)
                if e.name == "claimed" and e.task_id == s5_id]

    def holder_pid(self, task_id: str) -> int | None:
        places = self.s5.locate(self.ids[task_id])
        owners = [p.split(":", 1)[1] for p in places if p.startswith("processing:")]
        return self.pids.get(owners[0]) if owners else None

    def ended(self, task_id: str) -> str | None:
        if task_id not in self.ids:
            return None
        places = self.s5.locate(self.ids[task_id])
        if places == ["completed"]:
            return "completed"
        if places == ["dead_lettered"]:
            return "dead-letter queue"
        return None

    def close(self) -> None:
        self.stop()
        self.s5.clear()
        self.s5.close()
        super().close()


class RabbitmqRunner(Runner):
    """What the RabbitMQ runners add: the broker setting, the DLQ, and deleting our queues.

    The ledger and Celery's results stay in Redis; the messages go through RabbitMQ,
    in quorum queues named after the namespace, deleted by ``close()``.
    """

    dead_queue = ""
    dead_letter_exchange = ""
    dead_label = ""  # the dead-letter queue's name without the namespace, for the table

    def env(self) -> dict[str, str]:
        # One message held per Dramatiq process, as Celery's prefetch multiplier of 1:
        # a process killed mid-task hands back only the task it was running.
        return {**super().env(), settings.ENV_BROKER: "rabbitmq", ENV_AMQP_URL: amqp_url(),
                "dramatiq_queue_prefetch": "1"}

    def rabbit_names(self) -> tuple[list[str], list[str]]:
        """(queues, exchanges) this run declared."""
        raise NotImplementedError

    def admin(self) -> Admin:
        """One AMQP connection of the harness per runner (a runner stays in one thread)."""
        if self._admin is None or not self._admin.connection.is_open:
            self._admin = Admin()
        return self._admin

    def dead_ids(self) -> list[str]:
        """Task ids dead-lettered so far (taken off the DLQ, kept here)."""
        self._dead += self.admin().take_task_ids(self.dead_queue)
        return self._dead

    def ended(self, task_id: str) -> str | None:
        if task_id in self.ledger.done_ids():
            return "completed"
        if task_id in self.dead_ids():
            return f"dead-letter exchange -> {self.dead_label}"
        return None

    def close(self) -> None:
        super().close()
        admin = self.admin()
        try:
            admin.delete(*self.rabbit_names())
        finally:
            admin.close()


class DramatiqRabbitmqRunner(RabbitmqRunner, DramatiqRunner):
    engine = "dramatiq+rabbitmq"
    dead_label = "<queue>.XQ"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Not DramatiqRunner.__init__: it would make a Redis broker.
        Runner.__init__(self, *args, **kwargs)
        from dramatiq.common import dq_name, xq_name

        from .dramatiq_app import make_broker

        self._dead: list[str] = []
        self._admin: Admin | None = None
        self.broker = make_broker(self.redis_url, self.namespace, self.profile, "rabbitmq")
        self.dead_queue = xq_name(self.queue)
        self._queues = [self.queue, dq_name(self.queue), self.dead_queue]

    def rabbit_names(self) -> tuple[list[str], list[str]]:
        return self._queues, [self.broker.dead_letter_exchange]


class CeleryRabbitmqRunner(RabbitmqRunner, CeleryRunner):
    engine = "celery+rabbitmq"
    dead_label = "<namespace>.dead"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Not CeleryRunner.__init__: it would make an app on the Redis broker.
        Runner.__init__(self, *args, **kwargs)
        from .celery_app import dead_letter_names, make_app

        self._dead: list[str] = []
        self._admin: Admin | None = None
        self.app = make_app(self.redis_url, self.namespace, self.profile, "rabbitmq")
        self.dead_letter_exchange, self.dead_queue = dead_letter_names(self.namespace)
        # The DLQ exists before the first message can be dead-lettered.
        self.admin().dead_letter_exchange(self.dead_letter_exchange, self.dead_queue,
                                          self.dead_queue)

    def enqueue(self, task_id: str, data: dict[str, Any]) -> None:
        from .celery_app import TASK_NAME, rabbitmq_queue

        self.app.send_task(TASK_NAME, args=[task_id, data], task_id=task_id,
                           queue=rabbitmq_queue(self.namespace, self.queue))

    def rabbit_names(self) -> tuple[list[str], list[str]]:
        return [self.queue, self.dead_queue], [self.queue, self.dead_letter_exchange]


RUNNERS: dict[str, type[Runner]] = {r.engine: r for r in
                                    (Session5Runner, DramatiqRunner, RQRunner, CeleryRunner,
                                     StreamsRunner, DramatiqRabbitmqRunner,
                                     CeleryRabbitmqRunner)}
RABBITMQ_ENGINES = [DramatiqRabbitmqRunner.engine, CeleryRabbitmqRunner.engine]
