"""Tests for exercise 2: the reaper.

Run: pytest session5_recovery/exercises/test_ex2_reaper.py

Redis is fakeredis. A "dead" worker is simply one whose heartbeat key does not
exist; a live one has a key with a long TTL. No processes are killed here: the
integration tests in session5_recovery/tests do that with the real reaper.
"""

import fakeredis
import pytest

from workshop.exercises import load_exercise

ex = load_exercise(__file__)

Q = "ex2"


@pytest.fixture
def r():
    client = fakeredis.FakeRedis(decode_responses=True)
    yield client
    client.close()


def add_task(r, task_id, attempts=0, max_attempts=3):
    r.hset(f"{Q}:task:{task_id}", mapping={"id": task_id, "status": "pending",
                                          "attempts": attempts, "max_attempts": max_attempts})
    r.lpush(f"{Q}:pending", task_id)


def in_flight(r, worker, task_id, attempts, max_attempts=3):
    """A task that ``worker`` claimed: in its list, attempts already counted."""
    r.hset(f"{Q}:task:{task_id}", mapping={"id": task_id, "status": "processing",
                                          "worker_id": worker, "attempts": attempts,
                                          "max_attempts": max_attempts})
    r.lpush(f"{Q}:processing:{worker}", task_id)
    r.zadd(f"{Q}:workers", {worker: 0})


def alive(r, worker):
    r.set(f"{Q}:worker:{worker}", "1", ex=3600)
    r.zadd(f"{Q}:workers", {worker: 0})


def where(r, task_id):
    """Every place the id is, e.g. ['pending'] or ['processing:w1']."""
    places = []
    for key in [f"{Q}:pending", f"{Q}:dlq", *r.scan_iter(match=f"{Q}:processing:*")]:
        places += [key.removeprefix(f"{Q}:")] * r.lrange(key, 0, -1).count(task_id)
    return places


class TestPart1_find_dead_workers:
    def test_the_silent_ones(self, r):
        alive(r, "a")
        r.zadd(f"{Q}:workers", {"b": 0})  # registered, but no heartbeat key: dead
        alive(r, "c")
        got = ex.find_dead_workers(r, Q)
        assert got == ["b"], (
            f"workers a and c have heartbeat keys, b has none; find_dead_workers returned "
            f"{got}; expected ['b']")

    def test_nobody_registered(self, r):
        assert ex.find_dead_workers(r, Q) == [], "with an empty registry there is nobody to reap"

    def test_only_registered_workers(self, r):
        r.set(f"{Q}:worker:ghost", "1", ex=3600)  # a key, but not in the registry
        alive(r, "a")
        got = ex.find_dead_workers(r, Q)
        assert got == [], f"every registered worker has a heartbeat; got {got}, expected []"


class TestPart2_recover_task:
    def test_a_task_with_attempts_left_goes_back_to_the_head_of_the_line(self, r):
        add_task(r, "older")
        in_flight(r, "dead", "t1", attempts=1)
        outcome = ex.recover_task(r, Q, "dead", "t1")
        assert outcome == "requeued", f"recover_task returned {outcome!r}; expected 'requeued' (1 of 3 attempts used)"
        assert where(r, "t1") == ["pending"], (
            f"after recovery t1 is in {where(r, 't1')}; expected only ['pending'] "
            f"(and no longer in the dead worker's list)")
        next_up = r.lindex(f"{Q}:pending", -1)
        assert next_up == "t1", (
            f"the next id a worker would claim (the right end of pending) is {next_up!r}; "
            f"expected 't1': a recovered task has waited long enough, RPUSH it")
        assert r.hget(f"{Q}:task:t1", "status") == "pending"

    def test_the_lost_attempt_stays_counted(self, r):
        in_flight(r, "dead", "t1", attempts=1)
        ex.recover_task(r, Q, "dead", "t1")
        attempts = r.hget(f"{Q}:task:t1", "attempts")
        assert attempts == "1", (
            f"t1 was lost during attempt 1; after recovery attempts is {attempts}; expected 1. "
            f"The attempt was used up (counted at the claim): giving it back lets a task "
            f"that kills its worker come back forever")

    def test_a_task_out_of_attempts_goes_to_the_dlq(self, r):
        in_flight(r, "dead", "t1", attempts=3, max_attempts=3)
        outcome = ex.recover_task(r, Q, "dead", "t1")
        assert outcome == "dead_lettered", (
            f"t1 was lost during its 3rd of 3 attempts; recover_task returned {outcome!r}; "
            f"expected 'dead_lettered'")
        assert where(r, "t1") == ["dlq"], f"t1 is in {where(r, 't1')}; expected only ['dlq']"
        fields = r.hgetall(f"{Q}:task:t1")
        assert fields.get("status") == "dead_lettered", f"status is {fields.get('status')!r}; expected 'dead_lettered'"
        assert fields.get("reason"), "a dead-lettered task needs a 'reason' saying why it is there"


class TestPart3_reap:
    def test_only_dead_workers_are_reaped(self, r):
        alive(r, "live")
        in_flight(r, "live", "t-live", attempts=1)
        in_flight(r, "dead", "t2", attempts=1)
        in_flight(r, "dead", "t3", attempts=3, max_attempts=3)
        report = ex.reap(r, Q)
        assert where(r, "t-live") == ["processing:live"], (
            f"the live worker's task moved to {where(r, 't-live')}; a worker with a heartbeat "
            f"is still working on its task: leave it alone")
        assert sorted(report["requeued"]) == ["t2"], f"report: {report}; expected t2 requeued"
        assert sorted(report["dead_lettered"]) == ["t3"], f"report: {report}; expected t3 dead-lettered"
        assert report["workers"] == ["dead"], f"report: {report}; expected workers == ['dead']"
        registered = r.zrange(f"{Q}:workers", 0, -1)
        assert registered == ["live"], (
            f"after reaping the registry holds {registered}; expected ['live'] (forget the dead)")
        assert r.llen(f"{Q}:processing:dead") == 0, "the dead worker's list should be empty"

    def test_a_second_reap_finds_nothing(self, r):
        in_flight(r, "dead", "t1", attempts=1)
        ex.reap(r, Q)
        report = ex.reap(r, Q)
        assert report == {"workers": [], "requeued": [], "dead_lettered": []}, (
            f"a second reap right after the first returned {report}; expected nothing to do")
        assert where(r, "t1") == ["pending"], f"t1 ended up in {where(r, 't1')}; expected ['pending']"

    def test_a_task_that_kills_every_worker_ends_in_the_dlq(self, r):
        add_task(r, "poison", max_attempts=3)
        claims = 0
        for round_ in range(1, 11):
            worker = f"w{round_}"
            if ex.claim(r, Q, worker) is None:
                break
            claims += 1
            # The worker dies at once: it never writes a heartbeat.
            ex.reap(r, Q)
        assert where(r, "poison") == ["dlq"], (
            f"a task that killed every worker that claimed it was claimed {claims} times and "
            f"is now in {where(r, 'poison')}; expected the DLQ after 3 claims (max_attempts=3). "
            f"Without the limit a poison task kills workers forever")
        assert claims == 3, f"it was claimed {claims} times; expected exactly 3 (max_attempts)"
