"""Tests for exercise 2: the outbox relay.

Run: pytest session6_api/exercises/test_ex2_outbox_relay.py

Real Redis (the queue of session 5, carried forward) and a real database
(SQLite and PostgreSQL). "The relay dies" is an exception raised at an exact
step; the demo (demos/demo_dual_write.py) does the same with a real SIGKILL.
"""

import threading
import uuid

import pytest

from session5_recovery.workers import RedisTaskQueue
from session6_api.store import TaskStore
from workshop.exercises import load_exercise
from workshop.waiting import wait_until

ex = load_exercise(__file__)
pytestmark = pytest.mark.redis


class RelayKilled(Exception):
    """Stands for the relay process dying at this exact point."""


@pytest.fixture
def store(database_url, table_prefix):
    store = TaskStore(database_url, prefix=table_prefix)
    store.create_schema()
    yield store
    store.drop_schema()
    store.close()


@pytest.fixture
def queue(redis_url, queue_name):
    queue = RedisTaskQueue.connect(redis_url, queue_name=queue_name)
    yield queue
    queue.close()


def accept(store, count=1):
    """What POST /tasks does: a task row and its outbox row, in one transaction."""
    ids = []
    for _ in range(count):
        task_id = uuid.uuid4().hex
        store.create_task(task_id, {"image": "x.jpg", "filters": [], "priority": "normal"},
                          {"type": "noop", "n": len(ids)})
        ids.append(task_id)
    return ids


def in_redis(queue, task_id) -> bool:
    return queue.get_task_info(task_id) is not None


# --- Part 1 ---------------------------------------------------------------------


class TestPart1_Push:
    def test_push_uses_the_rows_task_id(self, store, queue):
        (task_id,) = accept(store)
        (row,) = store.unsent()
        assert ex.push(queue, row) is True
        assert in_redis(queue, task_id), "the task is not in Redis under the row's task id"
        assert queue.get_stats()["enqueued"] == 1

    def test_pushing_the_same_row_twice_is_refused(self, store, queue):
        accept(store)
        (row,) = store.unsent()
        ex.push(queue, row)
        assert ex.push(queue, row) is False, "a second push of the same row should be refused"
        assert queue.get_stats()["enqueued"] == 1, "the second push made a second task"


# --- Part 2 ---------------------------------------------------------------------


class TestPart2_RelayOnce:
    def test_one_pass_pushes_every_row_once_and_marks_it(self, store, queue):
        ids = accept(store, 3)
        report = ex.relay_once(store, queue)
        assert (report.pushed, report.duplicates) == (3, 0)
        assert store.unsent() == []
        assert all(in_redis(queue, i) for i in ids)
        assert ex.relay_once(store, queue).pushed == 0, "a second pass pushed again"

    def test_oldest_rows_go_first(self, store, queue):
        ids = accept(store, 3)
        ex.relay_once(store, queue)
        enqueued = [e.task_id for e in queue.events(None) if e.name == "enqueued"]
        assert enqueued == ids

    def test_a_relay_killed_between_steps_loses_and_doubles_nothing(self, store, queue):
        ids = accept(store, 3)

        def die_on_the_second(row):
            if row.task_id == ids[1]:
                raise RelayKilled

        with pytest.raises(RelayKilled):
            ex.relay_once(store, queue, between=die_on_the_second)
        # A new relay starts and finishes the job.
        report = ex.relay_once(store, queue)
        assert store.unsent() == [], "rows were left unsent"
        missing = [i for i in ids if not in_redis(queue, i)]
        assert not missing, f"tasks lost: {missing} are not in Redis although their rows are sent"
        assert queue.get_stats()["enqueued"] == 3, (
            f"Redis holds {queue.get_stats()['enqueued']} tasks for 3 rows: one was doubled")
        assert report.duplicates == 1, (
            f"the restarted relay should find exactly one row already pushed; report {report}")


# --- Part 3 ---------------------------------------------------------------------


class TestPart3_RelayForever:
    def test_a_failing_pass_does_not_end_the_relay(self, store, queue, monkeypatch):
        accept(store, 2)
        real_unsent = store.unsent
        failures = []

        def flaky_unsent(*args, **kwargs):
            if len(failures) < 2:  # the first two passes find the database unreachable
                failures.append(1)
                raise ConnectionError("the database is restarting")
            return real_unsent(*args, **kwargs)

        monkeypatch.setattr(store, "unsent", flaky_unsent)
        stop = threading.Event()
        thread = threading.Thread(target=ex.relay_forever, args=(store, queue, stop, 0.01),
                                  daemon=True)
        thread.start()
        try:
            wait_until(lambda: real_unsent() == [] or not thread.is_alive(), 30,
                       "the relay to send every row")
            assert thread.is_alive(), "relay_forever() ended when a pass failed"
            assert len(failures) == 2, "the relay never read the outbox"
            assert real_unsent() == [] and queue.get_stats()["enqueued"] == 2
        finally:
            stop.set()
            thread.join(10)
        assert not thread.is_alive(), "relay_forever() did not stop when stop was set"
