"""RedisTaskQueue against a real server: blocking claims, FIFO, stats.

Each test gets its own queue name (``queue_name`` fixture), whose keys are
deleted afterwards; nothing else on the server is touched.
"""

from __future__ import annotations

import threading
import time

import pytest

from session1_basics.task import TaskStatus
from session4_redis.workers import RedisTaskQueue

pytestmark = pytest.mark.redis


@pytest.fixture
def queue(redis_client, queue_name) -> RedisTaskQueue:
    return RedisTaskQueue(client=redis_client, queue_name=queue_name)


def wait_until_blocked(client, command: str, deadline_s: float = 5.0) -> None:
    """Return once some connection is parked in ``command`` (CLIENT LIST shows it)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if any(c.get("cmd") == command and "b" in c.get("flags", "") for c in client.client_list()):
            return
        time.sleep(0.005)
    raise AssertionError(f"no client blocked in {command} within {deadline_s} s")


def test_fifo(queue):
    ids = queue.add_tasks([{"n": n} for n in range(10)])
    assert [queue.get_task("w", timeout=1).id for _ in range(10)] == ids


def test_a_blocked_claim_wakes_when_a_task_is_added_from_another_thread(queue, redis_client):
    got = {}

    def claim() -> None:
        # redis-py clients are thread-safe: each command borrows a connection from
        # the client's pool, so the blocked claim does not hold up add_task below.
        started = time.monotonic()
        got["task"] = queue.get_task("sleeper", timeout=10)
        got["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=claim)
    thread.start()
    wait_until_blocked(redis_client, "blmove")
    task_id = queue.add_task({"wake": "up"})
    thread.join(timeout=5)
    assert not thread.is_alive(), "get_task(timeout=10) did not return after a task was added"
    assert got["task"] is not None and got["task"].id == task_id
    assert got["seconds"] < 5, f"woke after {got['seconds']:.2f} s, expected at once"


def test_timeout_returns_none_after_about_the_timeout(queue):
    started = time.monotonic()
    assert queue.get_task("w", timeout=0.3) is None
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 2, f"get_task(timeout=0.3) on an empty queue took {elapsed:.2f} s"


def test_timeout_zero_does_not_block(queue):
    started = time.monotonic()
    assert queue.get_task("w", timeout=0) is None
    assert time.monotonic() - started < 0.2


def test_two_workers_never_get_the_same_task(queue, redis_client):
    ids = queue.add_tasks([{"n": n} for n in range(200)])
    claimed: list[list[str]] = [[], []]

    def drain(index: int) -> None:
        mine = RedisTaskQueue(client=redis_client, queue_name=queue.queue_name)
        while (task := mine.get_task(f"w{index}", timeout=0)) is not None:
            claimed[index].append(task.id)
            mine.mark_completed(task.id)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(claimed[0] + claimed[1]) == sorted(ids)
    assert not set(claimed[0]) & set(claimed[1])
    assert queue.get_stats() == {"pending": 0, "processing": 0, "completed": 200,
                                 "failed": 0, "total": 200}


def test_stats_and_info(queue):
    a, b, _ = queue.add_tasks([{"n": 1}, {"n": 2}, {"n": 3}])
    queue.get_task("w", timeout=1)
    queue.get_task("w", timeout=1)
    queue.mark_completed(a, {"ok": True})
    queue.mark_failed(b, "bad")
    assert queue.get_stats() == {"pending": 1, "processing": 0, "completed": 1, "failed": 1,
                                 "total": 3}
    assert queue.get_task_info(a).status is TaskStatus.COMPLETED
    assert queue.get_task_info(a).result == {"ok": True}
    assert queue.get_task_info(b).error == "bad"


def test_bad_payload_is_refused(queue):
    with pytest.raises(TypeError, match="must be a dict"):
        queue.add_task(["not", "a", "dict"])
    with pytest.raises(TypeError, match="JSON"):
        queue.add_task({"value": float("nan")})
    assert queue.get_stats()["total"] == 0


def test_a_queue_opened_from_a_url(redis_url, queue_name):
    with RedisTaskQueue.connect(redis_url, queue_name=queue_name) as queue:
        task_id = queue.add_task({"n": 1})
        assert queue.get_task("w", timeout=1).id == task_id
