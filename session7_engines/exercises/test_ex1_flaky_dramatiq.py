"""Tests for exercise 1: session 5's flaky task on Dramatiq, with retries and backoff.

Run: pytest session7_engines/exercises/test_ex1_flaky_dramatiq.py

Dramatiq's ``StubBroker`` and a ``Worker`` run in this process: no Redis, no
worker command; ``broker.join`` waits (bounded) until every message, retries
included, has been processed or dead-lettered.
"""

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from workshop.exercises import load_exercise

ex = load_exercise(__file__)


class TestPart1_retry_options:
    def test_session5_policy_in_dramatiq_words(self):
        got = ex.retry_options(max_retries=3, min_backoff_ms=100, max_backoff_ms=2000)
        expected = {"max_retries": 3, "min_backoff": 100, "max_backoff": 2000}
        assert {k: got.get(k) for k in expected} == expected, (
            f"retry_options(3, 100, 2000) returned {got!r}; expected at least {expected} "
            f"(Dramatiq's option names; backoffs in milliseconds)")

    def test_permanent_errors_are_not_retried(self):
        throws = ex.retry_options().get("throws")
        assert throws and issubclass(ex.PermanentTaskError, tuple(throws)), (
            f"retry_options()['throws'] is {throws!r}; expected (PermanentTaskError,): "
            f"the exceptions Dramatiq must not retry")
        assert not issubclass(ex.TransientTaskError, tuple(throws)), (
            "TransientTaskError is in 'throws': then a flaky task is never retried")


@pytest.fixture
def broker():
    broker = StubBroker()
    broker.add_middleware(CurrentMessage())
    broker.emit_after("process_boot")
    yield broker
    broker.flush_all()
    broker.close()


def run_all(broker, runs, *sends):
    """Declare the actor, send the messages, process them all; the worker is stopped after."""
    actor = ex.declare_flaky(broker, runs)
    for task_id, times in sends:
        actor.send(task_id, times)
    worker = Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        broker.join(actor.queue_name, timeout=30_000, fail_fast=False)
    finally:
        worker.stop()
    return actor


class TestPart2_attempt_number:
    def test_first_run_is_attempt_one_and_each_retry_adds_one(self, broker):
        runs = []
        run_all(broker, runs, ("t1", 2))
        assert runs == [("t1", 1), ("t1", 2), ("t1", 3)], (
            f"flaky('t1', times=2) recorded runs {runs}; expected attempts 1, 2 (both failing) "
            f"and 3 (succeeding): attempt_number() is the message's retries + 1")


class TestPart3_flaky_actor:
    def test_fails_twice_then_succeeds_and_is_not_dead_lettered(self, broker):
        runs = []
        run_all(broker, runs, ("ok", 0), ("t2", 2))
        assert runs.count(("ok", 1)) == 1 and len([r for r in runs if r[0] == "ok"]) == 1, (
            f"flaky('ok', times=0) should run once and succeed; runs: {runs}")
        assert broker.dead_letters == [], (
            f"{len(broker.dead_letters)} message(s) were dead-lettered; a task that fails "
            f"twice with max_retries=3 must end well")

    def test_past_max_retries_it_lands_in_the_dead_letters(self, broker):
        runs = []
        run_all(broker, runs, ("hopeless", 10))
        attempts = [a for t, a in runs if t == "hopeless"]
        assert attempts == [1, 2, 3, 4], (
            f"flaky('hopeless', times=10) ran attempts {attempts}; expected 1 run + 3 retries "
            f"(max_retries=3), then the dead-letter queue")
        assert [m.args[0] for m in broker.dead_letters] == ["hopeless"]

    def test_a_permanent_error_goes_to_the_dead_letters_at_once(self, broker):
        runs = []
        run_all(broker, runs, ("bad", -1))
        assert runs == [("bad", 1)], (
            f"flaky('bad', times=-1) ran {runs}; a PermanentTaskError must not be retried "
            f"(the 'throws' option)")
        assert [m.args[0] for m in broker.dead_letters] == ["bad"]

    def test_the_actor_backs_off_between_retries(self, broker):
        actor = ex.declare_flaky(broker, [])
        assert actor.actor_name == "flaky"
        assert (actor.options.get("min_backoff"), actor.options.get("max_backoff")) == (10, 50), (
            f"the actor's options are {actor.options}; declare it with "
            f"retry_options(min_backoff_ms=10, max_backoff_ms=50)")
