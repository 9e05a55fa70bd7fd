"""The dual-write bug and the outbox, with real kills (SIGKILL) of child processes,
and the fenced update that makes a duplicate event harmless."""

from __future__ import annotations

import multiprocessing
import signal

import pytest

from session6_api.config import ApiConfig
from session6_api.services import open_queue, open_store
from session6_api.store import TaskStore, sortable_event_id
from session6_api.sync import EventSync
from session6_api.teaching import dual_write

pytestmark = [pytest.mark.redis, pytest.mark.chaos]


def run_child(target, *args) -> int | None:
    """Run ``target`` in a fresh (spawned) process and return its exit code."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    process.join(120)
    assert not process.is_alive(), "the child process did not finish"
    return process.exitcode


@pytest.fixture
def config(tmp_path, redis_url, queue_name, database_url, table_prefix):
    config = ApiConfig(redis_url=redis_url, database_url=database_url, queue_name=queue_name,
                       data_dir=tmp_path / "data", table_prefix=table_prefix, background=False)
    yield config
    store = open_store(config)
    store.drop_schema()
    store.close()


def test_naive_push_then_commit_killed_after_the_push_leaves_a_ghost_in_redis(config):
    task_id = dual_write.new_task_id()
    code = run_child(dual_write.naive_push_then_commit, dual_write.config_values(config),
                     task_id, "push")
    assert code == -signal.SIGKILL
    assert dual_write.where_is(config, task_id) == {"database": None, "redis": "pending",
                                                    "outbox": []}


def test_naive_commit_then_push_killed_after_the_commit_leaves_an_orphan_row(config):
    task_id = dual_write.new_task_id()
    code = run_child(dual_write.naive_commit_then_push, dual_write.config_values(config),
                     task_id, "commit")
    assert code == -signal.SIGKILL
    assert dual_write.where_is(config, task_id) == {"database": "pending", "redis": None,
                                                    "outbox": []}


def test_outbox_killed_before_commit_leaves_nothing_at_all(config):
    task_id = dual_write.new_task_id()
    code = run_child(dual_write.outbox_producer, dual_write.config_values(config),
                     task_id, "insert")
    assert code == -signal.SIGKILL
    assert dual_write.where_is(config, task_id) == {"database": None, "redis": None,
                                                    "outbox": []}


def test_outbox_survives_a_relay_killed_between_push_and_mark(config):
    values = dual_write.config_values(config)
    task_id = dual_write.new_task_id()
    assert run_child(dual_write.outbox_producer, values, task_id, "commit") == -signal.SIGKILL
    assert dual_write.where_is(config, task_id) == {"database": "pending", "redis": None,
                                                    "outbox": ["unsent"]}
    # The relay dies after Redis has the task and before the row is marked sent.
    assert run_child(dual_write.relay_once, values, "push") == -signal.SIGKILL
    assert dual_write.where_is(config, task_id) == {"database": "pending", "redis": "pending",
                                                    "outbox": ["unsent"]}
    # A new relay pushes again: refused as a duplicate, marked sent, one task in Redis.
    assert run_child(dual_write.relay_once, values, None) == 0
    assert dual_write.where_is(config, task_id) == {"database": "pending", "redis": "pending",
                                                    "outbox": ["sent"]}
    queue = open_queue(config)
    try:
        assert queue.get_stats()["enqueued"] == 1
        assert [e.name for e in queue.events(None)] == ["enqueued"]
    finally:
        queue.close()


# --- the fence --------------------------------------------------------------------------


def test_stream_ids_sort_as_text_like_they_sort_as_numbers():
    assert sortable_event_id("999-0") < sortable_event_id("1000-0")
    assert sortable_event_id("1000-2") < sortable_event_id("1000-10")


@pytest.fixture
def store(database_url, table_prefix):
    store = TaskStore(database_url, prefix=table_prefix)
    store.create_schema()
    yield store
    store.drop_schema()
    store.close()


def make_row(store: TaskStore) -> str:
    task_id = dual_write.new_task_id()
    store.create_task(task_id, {"image": "x.jpg", "filters": [], "priority": "normal"},
                      {"type": "noop"})
    return task_id


def test_an_event_applies_once_and_an_older_one_never(store):
    task_id = make_row(store)
    assert store.apply_event(task_id, "1000-1", status="processing", attempts=1)
    assert not store.apply_event(task_id, "1000-1", status="processing", attempts=99)
    assert store.apply_event(task_id, "1000-2", status="completed")
    assert not store.apply_event(task_id, "1000-1", status="processing")  # late, older
    row = store.get(task_id)
    assert (row.status, row.attempts) == ("completed", 1)


def test_the_event_follower_reading_twice_changes_nothing(config, queue_name):
    store, queue = open_store(config), open_queue(config)
    try:
        task_id = make_row(store)
        store.unsent()  # the relay's part, done by hand here
        from session6_api.queue_ops import enqueue

        enqueue(queue, {"type": "noop"}, task_id=task_id)
        task = queue.get_task("worker-1", timeout=0)
        queue.mark_completed(task.id, {"ok": True})
        first = EventSync(store, queue)
        assert first.run_once() == 3 and first.applied == 3
        # A follower that lost its saved position reads every event again.
        store.set_position(first.name, "0-0")
        again = EventSync(store, queue)
        assert again.run_once() == 3 and again.applied == 0
        assert store.get(task_id).status == "completed"
    finally:
        store.close()
        queue.close()


def test_the_relay_command_pushes_unsent_rows_and_stops_on_sigterm(config, tmp_path):
    """``python -m session6_api relay``: the relay alone, as the demo and a deployment run it."""
    import os
    import subprocess
    import sys

    from workshop.waiting import wait_until

    store, queue = open_store(config), open_queue(config)
    try:
        task_id = make_row(store)
        env = {**os.environ, "REDIS_URL": config.redis_url, "DATABASE_URL": config.database_url,
               "QUEUE_NAME": config.queue_name, "SESSION6_TABLE_PREFIX": config.table_prefix,
               "SESSION6_DATA_DIR": str(config.data_dir)}
        relay = subprocess.Popen([sys.executable, "-m", "session6_api", "relay"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_until(lambda: queue.get_task_info(task_id) is not None, 60,
                       "the relay to push the row")
            wait_until(lambda: store.unsent() == [], 30, "the relay to mark the row sent")
        finally:
            relay.send_signal(signal.SIGTERM)
            output, _ = relay.communicate(timeout=30)
        assert relay.returncode == 0, output
        assert "relay: outbox of" in output
    finally:
        store.close()
        queue.close()


def test_a_follower_behind_a_trimmed_stream_reconciles_from_redis(config):
    """Events the follower never read (trimmed away) do not leave rows behind."""
    from session6_api.queue_ops import enqueue

    store, queue = open_store(config), open_queue(config)
    try:
        done, waiting = make_row(store), make_row(store)
        for task_id in (done, waiting):
            enqueue(queue, {"type": "noop"}, task_id=task_id)
        task = queue.get_task("worker-1", timeout=0)
        queue.mark_completed(task.id, {"ok": True}, worker_id="worker-1")
        follower = EventSync(store, queue)
        store.set_position(follower.name, "1-0")  # it last read long ago...
        queue.client.xtrim(queue.keys.events, maxlen=0)  # ...and everything since is gone
        assert follower.trimmed_past("1-0")
        follower.run_once()
        assert store.get(task.id).status == "completed"
        other = waiting if task.id == done else done
        assert store.get(other).status == "pending"
        # Later events still apply on top of the reconciled rows.
        claimed = queue.get_task("worker-2", timeout=0)
        assert claimed.id == other
        follower.run_once()
        assert store.get(other).status == "processing"
        assert not follower.trimmed_past(store.position(follower.name))
    finally:
        store.close()
        queue.close()


class RoundTrips:
    """Counts the requests a redis-py client sends to the server: one per command, and
    one per pipeline however many commands it carries."""

    def __init__(self, client, monkeypatch) -> None:
        self.count = 0
        execute_command, pipeline = client.execute_command, client.pipeline

        def counted_command(*args, **options):
            self.count += 1
            return execute_command(*args, **options)

        def counted_pipeline(*args, **kwargs):
            pipe = pipeline(*args, **kwargs)
            execute = pipe.execute

            def counted_execute(*execute_args, **execute_kwargs):
                self.count += 1
                return execute(*execute_args, **execute_kwargs)

            pipe.execute = counted_execute
            return pipe

        monkeypatch.setattr(client, "execute_command", counted_command)
        monkeypatch.setattr(client, "pipeline", counted_pipeline)

    def of(self, action) -> int:
        """How many round trips ``action()`` made."""
        before = self.count
        action()
        return self.count - before


def row_as_redis_says(store: TaskStore, queue, task_id: str) -> tuple:
    """(status, attempts, error, worker, started, finished) of the row, and as Redis has it."""
    row, task = store.get(task_id), queue.get_task_info(task_id)
    mine = (row.status, row.attempts, row.error, row.worker_id, row.started_at, row.finished_at)
    if task is None:
        return mine, mine  # nothing in Redis to copy: the row stays as it was
    return mine, (str(task.status), task.attempts, task.error, task.worker_id, task.started_at,
                  task.finished_at)


def test_reconcile_reads_the_task_hashes_in_one_round_trip_per_chunk(config, monkeypatch):
    """Before: one HGETALL round trip per unfinished row (1,200 rows: 1,200 round trips)."""
    from session6_api.queue_ops import enqueue

    store, queue = open_store(config), open_queue(config)
    try:
        done, running, waiting, absent, not_a_hash = (make_row(store) for _ in range(5))
        for task_id in (done, running, waiting):
            enqueue(queue, {"type": "noop"}, task_id=task_id)
        assert queue.get_task("worker-1", timeout=0).id == done
        queue.mark_completed(done, {"ok": True}, worker_id="worker-1")
        assert queue.get_task("worker-2", timeout=0).id == running
        queue.client.set(queue.keys.task(not_a_hash), "written by hand")
        follower = EventSync(store, queue)
        trips = RoundTrips(queue.client, monkeypatch)

        with_five = trips.of(follower.reconcile)
        for task_id in (done, running, waiting, absent, not_a_hash):
            mine, in_redis = row_as_redis_says(store, queue, task_id)
            assert mine == in_redis, task_id
        assert store.get(done).status == "completed"
        assert store.get(running).status == "processing"

        for task_id in [make_row(store) for _ in range(40)]:
            enqueue(queue, {"type": "noop"}, task_id=task_id)
        unfinished = len(store.unfinished_ids(1000))
        assert unfinished == 44
        assert trips.of(follower.reconcile) == with_five  # 44 rows, not 4 rows: as many trips
        # A smaller chunk: one more round trip per chunk of rows (44 rows in 5 chunks of 10).
        assert trips.of(lambda: follower.reconcile(page=10)) == with_five + 4
    finally:
        store.close()
        queue.close()
