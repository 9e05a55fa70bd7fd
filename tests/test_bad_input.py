"""Bad input against a real worker process: each case ends failed (or in the DLQ) with a reason.

The corpus (``_bad_input_corpus.py``) is queued once per session, each bad task
between two good image tasks, and one real worker process works through all of
it. Then, case by case:

- the bad task ended where the corpus says (failed / DLQ / completed), and its
  stored reason names what was wrong;
- the worker process survived (if a case kills it, the runner records the task
  it was holding, starts a replacement, and that case's test fails by name);
- every good task completed.

Session 5 is the target; session 4 runs the cases whose behaviour it defines.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from _bad_input_corpus import Case, Expect, Files, build_cases, good_task, make_files
from _chaos_helpers import Processes, stop_gracefully

pytestmark = [pytest.mark.redis, pytest.mark.multiprocess]

CORPUS_TIMEOUT = 60  # seconds for one session's whole corpus (it takes about 2 here)
CRASH_LOOP = 4  # a task that killed this many workers is taken out of the queue (and reported)


def _raw(url: str) -> redis.Redis:
    """A client that keeps bytes: it can read what a text client cannot decode."""
    return redis.Redis.from_url(url, decode_responses=False)


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class CorpusTarget:
    """What both sessions share: a fresh queue, a client that keeps bytes, key names, cleanup."""

    name: str

    def __init__(self, url: str) -> None:
        self.url = url
        self.queue_name = f"badinput-{self.name}-{uuid.uuid4().hex[:10]}"
        self.queue = self.make_queue()
        self.raw = _raw(url)

    def make_queue(self) -> Any:
        raise NotImplementedError

    def key(self, suffix: str | bytes) -> bytes:
        suffix = suffix.encode() if isinstance(suffix, str) else suffix
        return self.queue_name.encode() + b":" + suffix

    def expect(self, case: Case) -> Expect | None:
        return getattr(case, self.name)

    def add(self, data: dict[str, Any]) -> str:
        return self.queue.add_task(data)

    def push_raw_id(self, raw_id: bytes) -> None:
        self.raw.lpush(self.key("pending"), raw_id)

    def cleanup(self) -> None:
        keys = list(self.raw.scan_iter(match=self.key(b"*"), count=1000))
        if keys:
            self.raw.delete(*keys)
        self.queue.close()
        self.raw.close()


class Session4(CorpusTarget):
    """How to queue, run and inspect the corpus on session 4's queue."""

    name = "s4"
    lists = ("pending", "processing", "completed", "failed")
    outcome_of_list = {"completed": "completed", "failed": "failed"}
    stop_signal = signal.SIGINT  # session 4: finish the current task, then exit

    def make_queue(self) -> Any:
        from session4_redis.workers import RedisTaskQueue

        return RedisTaskQueue(url=self.url, queue_name=self.queue_name)

    def write_raw_task(self, fields: dict[str, Any]) -> str:
        task_id = uuid.uuid4().hex
        mapping = {"id": task_id, "status": "pending", "created_at": repr(time.time()), **fields}
        mapping = {k: v for k, v in mapping.items() if v is not None}
        self.raw.hset(self.key(f"task:{task_id}"), mapping=mapping)
        self.raw.lpush(self.key("pending"), task_id)
        return task_id

    def start_worker(self, procs: Processes, n: int) -> Any:
        from session4_redis.workers import run_worker_process

        return procs.start(run_worker_process, (f"bad-input-{n}", self.url, self.queue_name, False))

    def in_flight(self) -> list[bytes]:
        return self.raw.lrange(self.key("processing"), 0, -1)

    def settled(self, stuck: set[bytes], parked: set[bytes]) -> bool:
        """Nothing pending; in flight only what dead workers left (nobody recovers it here).

        Both lists are read in one MULTI/EXEC, at one instant: two separate reads
        could see a task in neither list while it moves between them.
        """
        pipe = self.raw.pipeline(transaction=True)
        pipe.llen(self.key("pending"))
        pipe.lrange(self.key("processing"), 0, -1)
        pending, in_flight = pipe.execute()
        return pending == 0 and set(in_flight) <= stuck | parked

    def park(self, entry: bytes) -> None:
        self.raw.lrem(self.key("pending"), 0, entry)

    def held_by(self, n: int, stuck: set[bytes]) -> list[bytes]:
        """What dead worker number ``n`` was holding: what it left in processing."""
        return [e for e in self.in_flight() if e not in stuck]

    def outcome(self, ref: bytes) -> tuple[str, str]:
        where = [name for name in self.lists if self.raw.lpos(self.key(name), ref) is not None]
        reason = _text(self.raw.hget(self.key(b"task:" + ref), "error"))
        if len(where) != 1:
            return f"in {where or 'no list'}", reason
        return self.outcome_of_list.get(where[0], f"still {where[0]}"), reason


class Session5(CorpusTarget):
    """How to queue, run and inspect the corpus on session 5's queue (the target)."""

    name = "s5"
    # Short heartbeats: a worker that dies on a case is noticed and replaced quickly.
    settings = {"heartbeat_interval": 0.1, "heartbeat_ttl": 0.5, "reap_interval": 0.1,
                "claim_timeout": 0.2, "max_attempts": 3, "backoff_base": 0.05}
    stop_signal = signal.SIGTERM  # finish the current task, leave the registry, exit 0

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.allowed: list[str] = []  # the folders image tasks may use (set by the fixture)
        self.workers: list[str] = []  # every worker id started, in order

    def key(self, suffix: str | bytes) -> bytes:
        """Session 5's keys carry the queue name as a hash tag: ``{name}:suffix``."""
        suffix = suffix.encode() if isinstance(suffix, str) else suffix
        return b"{" + self.queue_name.encode() + b"}:" + suffix

    def make_queue(self) -> Any:
        from session5_recovery.workers import RecoverySettings, RedisTaskQueue

        return RedisTaskQueue(url=self.url, queue_name=self.queue_name,
                              settings=RecoverySettings.from_dict(self.settings))

    def write_raw_task(self, fields: dict[str, Any]) -> str:
        """A task hash in session 5's layout, as a producer in another language would write it."""
        task_id = uuid.uuid4().hex
        mapping = {"id": task_id, "type": "image", "status": "pending", "attempts": 0,
                   "max_attempts": 3, "created_at": repr(time.time()), "history": 0, **fields}
        mapping = {k: v for k, v in mapping.items() if v is not None}
        pipe = self.raw.pipeline()
        pipe.hset(self.key(f"task:{task_id}"), mapping=mapping)
        pipe.sadd(self.key("tasks"), task_id)
        pipe.lpush(self.key("pending"), task_id)
        pipe.execute()
        return task_id

    def start_worker(self, procs: Processes, n: int) -> Any:
        from session5_recovery.workers import run_worker_process

        self.workers.append(f"bad-input-{n}")
        return procs.start(run_worker_process, (f"bad-input-{n}", self.url, self.queue_name, False),
                           kwargs={"settings": self.settings, "allowed_dirs": self.allowed})

    def in_flight(self) -> list[bytes]:
        entries: list[bytes] = []
        for key in self.raw.scan_iter(match=self.key("processing:*"), count=1000):
            entries += self.raw.lrange(key, 0, -1)
        return entries

    def settled(self, stuck: set[bytes], parked: set[bytes]) -> bool:
        """Nothing pending, delayed or in flight: ``stuck`` does not count here, because
        the reaper must bring a dead worker's tasks back.

        Every list is read in one MULTI/EXEC, at one instant. Separate reads can miss
        a task that moves between them (read pending, then the reaper moves the task
        from a processing list to pending, then read processing: seen nowhere). The
        processing lists are those of every worker started so far, plus any other
        the key space shows, so a replacement worker's new list is never missed.
        """
        processing = {self.key(f"processing:{worker}") for worker in self.workers}
        processing.update(self.raw.scan_iter(match=self.key("processing:*"), count=1000))
        pipe = self.raw.pipeline(transaction=True)
        pipe.lrange(self.key("pending"), 0, -1)
        pipe.zrange(self.key("delayed"), 0, -1)
        for key in sorted(processing):
            pipe.lrange(key, 0, -1)
        pending, delayed, *in_flight = pipe.execute()
        seen = set(pending) | set(delayed)
        for entries in in_flight:
            seen.update(entries)
        return seen <= parked

    def park(self, entry: bytes) -> None:
        for key in self.raw.scan_iter(match=self.key("processing:*"), count=1000):
            self.raw.lrem(key, 0, entry)
        self.raw.zrem(self.key("delayed"), entry)
        self.raw.lrem(self.key("pending"), 0, entry)

    def held_by(self, n: int, stuck: set[bytes]) -> list[bytes]:
        """The tasks dead worker number ``n`` had claimed and not finished.

        Its own list, plus what the event stream says it claimed and then only handed
        back ("requeued"): a worker that dies of an exception may give its task back
        on the way out, leaving its list empty.
        """
        worker = f"bad-input-{n}"
        last: dict[str, str] = {}
        for event in self.queue.events(None):
            if event.worker_id == worker and event.task_id:
                last[event.task_id] = event.name
        unfinished = [t.encode() for t, name in last.items() if name in ("claimed", "requeued")]
        listed = self.raw.lrange(self.key(f"processing:{worker}"), 0, -1)
        return list(dict.fromkeys(listed + unfinished))

    def _quarantined_as(self, raw_id: bytes) -> bytes | None:
        """Entries that are not text are dead-lettered under a new id, with their bytes in hex."""
        for task_id in self.raw.lrange(self.key("dlq"), 0, -1):
            data = self.raw.hget(self.key(b"task:" + task_id), "data") or b""
            if raw_id[:200].hex().encode() in data:
                return task_id
        return None

    def outcome(self, ref: bytes) -> tuple[str, str]:
        try:
            ref.decode("utf-8")
        except UnicodeDecodeError:
            ref = self._quarantined_as(ref) or ref
        places = [name for name in ("pending", "completed", "dlq")
                  if self.raw.lpos(self.key(name), ref) is not None]
        if self.raw.zscore(self.key("delayed"), ref) is not None:
            places.append("delayed")
        if ref in self.in_flight():
            places.append("processing")
        fields = self.raw.hmget(self.key(b"task:" + ref), "reason", "error")
        reason = _text(fields[0] or fields[1])
        if len(places) != 1:
            return f"in {places or 'no list'}", reason
        return {"dlq": "dlq", "completed": "completed"}.get(places[0], f"still {places[0]}"), reason


SESSIONS = {"s4": Session4, "s5": Session5}


@dataclass
class CorpusRun:
    """What happened when one worker (and its replacements, if any) met the corpus."""

    session: Any
    cases: list[Case]
    refs: dict[str, Any] = field(default_factory=dict)  # case name -> raw id, or ("refused", msg)
    goods: list[str] = field(default_factory=list)
    deaths: list[dict[str, Any]] = field(default_factory=list)  # exit code, ids it held
    timed_out: bool = False
    parked: set[bytes] = field(default_factory=set)  # tasks taken out after a crash loop
    final_exit_code: int | None = None
    seconds: float = 0.0


def inject(session: Any, case: Case) -> Any:
    """Queue one case the way its ``kind`` says; return what identifies it afterwards."""
    if case.kind in ("api", "refused"):
        try:
            return session.add(case.payload).encode()
        except (TypeError, ValueError) as error:  # add_task refused it: nothing was queued
            return ("refused", str(error))
    if case.kind == "raw":
        return session.write_raw_task(case.payload).encode()
    if case.kind == "raw_id":
        raw_id = case.payload if isinstance(case.payload, bytes) else case.payload.encode()
        raw_id += f"-{uuid.uuid4().hex[:6]}".encode()  # unique, still made by hand
        session.push_raw_id(raw_id)
        return raw_id
    raise ValueError(f"unknown case kind {case.kind!r}")


def run_corpus(session: Any, cases: list[Case], files: Any) -> CorpusRun:
    run = CorpusRun(session, cases)
    run.goods.append(session.add(good_task(files, 0)))
    for n, case in enumerate(cases, start=1):
        run.refs[case.name] = inject(session, case)
        run.goods.append(session.add(good_task(files, n)))
    started = time.monotonic()
    stuck: set[bytes] = set()  # held by a worker that died (session 4 never gets them back)
    kills: Counter[bytes] = Counter()  # task -> workers that died holding it
    with Processes() as procs:
        worker = session.start_worker(procs, 0)
        deadline = started + CORPUS_TIMEOUT
        while not session.settled(stuck, run.parked):
            if not worker.is_alive():
                # The worker died: note what it was holding, and replace it so the
                # rest of the corpus still runs (each case is judged on its own).
                worker.join(1)
                held = session.held_by(len(run.deaths), stuck)
                stuck.update(held)
                kills.update(held)
                run.deaths.append({"exit_code": worker.exitcode, "in_flight": held})
                # A task that has killed CRASH_LOOP workers would go on killing them:
                # take it out of the queue, so the other cases can still be judged.
                run.parked.update(e for e in held if kills[e] >= CRASH_LOOP)
                worker = session.start_worker(procs, len(run.deaths))
            for entry in run.parked:
                session.park(entry)
            if time.monotonic() > deadline:
                run.timed_out = True
                break
            time.sleep(0.05)
        run.final_exit_code = stop_gracefully(worker, session.stop_signal)
    run.seconds = time.monotonic() - started
    print(f"\n{session.name}: {len(cases)} bad cases + {len(run.goods)} good tasks in "
          f"{run.seconds:.1f} s; worker deaths: {len(run.deaths)}")
    return run


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("bad-input"))


@pytest.fixture(scope="module")
def corpus_runs(redis_target, corpus_files):
    """``corpus_runs("s4")``: the corpus run for a session, run once and shared by its tests."""
    runs: dict[str, CorpusRun] = {}
    sessions: list[Any] = []

    def get(name: str) -> CorpusRun:
        if name not in runs:
            session = SESSIONS[name](redis_target.url)
            if name == "s5":  # session 4 has no allowed folders
                session.allowed = [str(corpus_files.inbox), str(corpus_files.outbox)]
            sessions.append(session)
            cases = [c for c in build_cases(corpus_files) if session.expect(c) is not None]
            runs[name] = run_corpus(session, cases, corpus_files)
        return runs[name]

    yield get
    for session in sessions:
        session.cleanup()


def _case_params() -> list[Any]:
    """One test id per (session, case); the paths are filled in when the corpus runs."""
    placeholder = Files(Path("/x"), Path("/x/in"), Path("/x/out"), Path("/x/outside"))
    return [pytest.param(name, case.name, id=f"{name}-{case.name}")
            for name in SESSIONS for case in build_cases(placeholder)
            if getattr(case, name) is not None]


@pytest.mark.parametrize("session_name, case_name", _case_params())
def test_each_bad_input_ends_as_the_corpus_says(corpus_runs, session_name: str, case_name: str):
    corpus_run = corpus_runs(session_name)
    session = corpus_run.session
    case = next(c for c in corpus_run.cases if c.name == case_name)
    expected = session.expect(case)
    ref = corpus_run.refs[case.name]
    if isinstance(ref, tuple):  # add_task raised
        outcome, reason = ref
    else:
        killers = [d for d in corpus_run.deaths if ref in d["in_flight"]]
        assert not killers, (
            f"{session.name} case {case.name!r}: the worker process DIED on this task "
            f"{len(killers)} time(s) (exit codes {[d['exit_code'] for d in killers]})"
            f"{'; a crash loop: the test took it out of the queue' if ref in corpus_run.parked else ''}"
            f"; a bad task must be failed with a reason and the worker must keep running")
        outcome, reason = session.outcome(ref)
    assert outcome == expected.outcome, (
        f"{session.name} case {case.name!r}: ended {outcome!r} (reason {reason[:300]!r}), "
        f"expected {expected.outcome!r}")
    missing = [part for part in expected.reason if part not in reason]
    assert not missing, (f"{session.name} case {case.name!r}: the reason {reason[:400]!r} "
                         f"should mention {missing}")


@pytest.mark.parametrize("session_name", list(SESSIONS))
def test_the_worker_keeps_running_through_the_corpus(corpus_runs, session_name: str):
    corpus_run = corpus_runs(session_name)
    parked = sorted(corpus_run.parked)
    assert not parked, (
        f"crash loop: {parked} killed {CRASH_LOOP}+ workers each and would "
        f"have gone on (the test took them out of the queue)")
    assert not corpus_run.timed_out, (
        f"the corpus did not settle within {CORPUS_TIMEOUT} s: {corpus_run.session.in_flight()}")
    deaths = corpus_run.deaths
    assert not deaths, (
        f"the worker process died {len(corpus_run.deaths)} time(s) on bad input: "
        f"{corpus_run.deaths}")
    assert corpus_run.final_exit_code == 0, (
        f"the worker should stop cleanly when asked; exit code {corpus_run.final_exit_code}")


@pytest.mark.parametrize("session_name", list(SESSIONS))
def test_the_good_tasks_around_the_bad_ones_complete(corpus_runs, session_name: str):
    corpus_run = corpus_runs(session_name)
    outcomes = {task_id: corpus_run.session.outcome(task_id.encode())[0]
                for task_id in corpus_run.goods}
    not_done = {k: v for k, v in outcomes.items() if v != "completed"}
    assert not not_done, f"good tasks that did not complete: {not_done}"


def test_the_queue_adds_up_after_the_corpus(corpus_runs):
    """Session 5: every task, hand-written ones included, is in exactly one place."""
    corpus_run = corpus_runs("s5")
    conservation = corpus_run.session.queue.conservation()
    assert conservation.holds, str(conservation)
    assert conservation.pending + conservation.processing + conservation.delayed == 0, \
        str(conservation)
