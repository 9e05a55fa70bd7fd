"""Tasks that wait for their time: ``add_task(data, run_at=...)`` / ``delay=`` on ``{q}:delayed``.

A task added with a due time is created in state "delayed", in the same sorted
set where retries wait, and the promotion every worker runs in its chores makes
it pending when the time comes. A fake clock moves time; the worker test counts
runs with the run ledger.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from session5_recovery.tools import run_report
from session5_recovery.workers import (
    DuplicateTaskError,
    HandlerRegistry,
    QueueKeys,
    RedisTaskQueue,
    RedisWorker,
    TaskStatus,
)
from session5_recovery.workers.redis_task_queue import RUN_AT_TOLERANCE
from workshop.waiting import wait_until

pytestmark = pytest.mark.redis


def test_a_delayed_task_waits_in_the_delayed_set_then_is_promoted(queue, fake_clock):
    task_id = queue.add_task({"type": "noop"}, task_id="later-1", delay=30)
    assert task_id == "later-1"
    task = queue.get_task_info(task_id)
    assert task.status is TaskStatus.DELAYED and task.due_at == fake_clock() + 30
    assert task.attempts == 0
    assert queue.locate(task_id) == ["delayed"]
    assert queue.client.zscore(queue.keys.delayed, task_id) == fake_clock() + 30
    assert queue.get_task("w1", timeout=0) is None, "a task due in 30 s was claimable at once"
    fake_clock.advance(29.9)
    assert queue.promote_due() == 0, "promoted 0.1 s before its due time"
    fake_clock.advance(0.1)
    assert queue.promote_due() == 1
    assert queue.locate(task_id) == ["pending"]
    assert queue.get_task_info(task_id).due_at is None
    claimed = queue.get_task("w1", timeout=0)
    assert claimed.id == task_id and claimed.attempts == 1, "waiting used up an attempt"
    promoted = [e for e in queue.events(None) if e.name == "requeued"]
    assert [e.fields["reason"] for e in promoted] == ["run_at due"]


def test_run_at_as_a_number_or_a_datetime_and_delay_give_one_due_time(queue, fake_clock):
    when = fake_clock() + 5
    queue.add_task({"type": "noop"}, task_id="a", run_at=when)
    queue.add_task({"type": "noop"}, task_id="b", delay=5)
    queue.add_task({"type": "noop"}, task_id="c",
                   run_at=datetime.fromtimestamp(when, timezone.utc))
    assert queue.client.zrange(queue.keys.delayed, 0, -1, withscores=True) == [
        ("a", when), ("b", when), ("c", when)]


def test_add_tasks_gives_the_whole_batch_one_due_time(queue, fake_clock):
    ids = queue.add_tasks([{"type": "noop", "n": n} for n in range(3)], delay=10)
    assert (ids.queued, ids.already) == (3, 0)
    stats = queue.get_stats()
    assert (stats["delayed"], stats["pending"], stats["enqueued"]) == (3, 0, 3)
    fake_clock.advance(10)
    assert queue.promote_due() == 3 and queue.get_stats()["pending"] == 3


def test_a_due_time_that_has_come_queues_the_task_at_once(queue, fake_clock):
    queue.add_task({"type": "noop"}, task_id="zero", delay=0)
    queue.add_task({"type": "noop"}, task_id="now", run_at=fake_clock())
    queue.add_task({"type": "noop"}, task_id="jitter", run_at=fake_clock() - RUN_AT_TOLERANCE / 2)
    assert [queue.locate(i) for i in ("zero", "now", "jitter")] == [["pending"]] * 3


@pytest.mark.parametrize("kwargs, message", [
    ({"run_at": 0.0}, "in the past"),
    ({"delay": -1}, "delay must be >= 0"),
    ({"delay": float("nan")}, "finite number"),
    ({"delay": float("inf")}, "finite number"),
    ({"run_at": "tomorrow"}, "finite number"),
    ({"delay": True}, "finite number"),
    ({"run_at": datetime(2030, 1, 1)}, "no time zone"),
    ({"delay": 1, "run_at": 2e6}, "not both"),
])
def test_bad_times_are_refused_in_one_line_before_anything_is_written(queue, kwargs, message):
    with pytest.raises(ValueError, match=message) as refused:
        queue.add_task({"type": "noop"}, **kwargs)
    assert "\n" not in str(refused.value)
    with pytest.raises(ValueError, match=message):
        queue.add_tasks([{"type": "noop"}], **kwargs)
    assert queue.get_stats()["enqueued"] == 0 and queue.events(None) == []


def test_a_run_at_just_past_the_tolerance_is_refused(queue, fake_clock):
    with pytest.raises(ValueError, match="in the past"):
        queue.add_task({"type": "noop"}, run_at=fake_clock() - RUN_AT_TOLERANCE - 0.01)
    with pytest.raises(ValueError, match="in the past"):
        queue.add_task({"type": "noop"},
                       run_at=datetime.fromtimestamp(fake_clock(), timezone.utc) - timedelta(hours=1))


def test_an_id_delayed_once_cannot_be_added_again(queue, fake_clock):
    queue.add_task({"type": "noop"}, task_id="x", delay=5)
    for again in ({}, {"delay": 9}, {"run_at": fake_clock() + 100}):
        with pytest.raises(DuplicateTaskError):
            queue.add_task({"type": "noop", "again": True}, task_id="x", **again)
    resent = queue.add_tasks([{"type": "noop"}], task_ids=["x"], delay=5)
    assert (resent.queued, resent.already) == (0, 1), "a resent batch queued a second copy"
    queue.add_task({"type": "noop"}, task_id="y")
    with pytest.raises(DuplicateTaskError):
        queue.add_task({"type": "noop"}, task_id="y", delay=5)
    assert queue.get_task_info("x").due_at == fake_clock() + 5, "the refusal changed the task"
    fake_clock.advance(5)
    queue.promote_due()
    with pytest.raises(DuplicateTaskError):  # still refused once it is pending
        queue.add_task({"type": "noop"}, task_id="x", delay=5)
    assert queue.get_stats()["enqueued"] == 2 and queue.conservation().holds


def test_two_promoters_move_a_due_task_exactly_once(queue, redis_client, settings, fake_clock):
    queue.add_task({"type": "noop"}, task_id="once", delay=1)
    other = RedisTaskQueue(client=redis_client, queue_name=queue.queue_name, settings=settings)
    fake_clock.advance(1)
    barrier = threading.Barrier(2)
    moved: list[int] = []

    def promote(q: RedisTaskQueue) -> None:
        barrier.wait(10)
        moved.append(q.promote_due())

    threads = [threading.Thread(target=promote, args=(q,)) for q in (queue, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(moved) == [0, 1]
    assert queue.promote_due() == 0
    assert queue.locate("once") == ["pending"]
    assert [e.name for e in queue.events(None)].count("requeued") == 1


def test_conservation_counts_the_delayed_term(queue, fake_clock):
    queue.add_tasks([{"type": "noop"}] * 2)
    queue.add_tasks([{"type": "noop"}] * 3, delay=60)
    c = queue.conservation()
    assert (c.pending, c.delayed, c.enqueued) == (2, 3, 5) and c.holds, c
    assert "delayed 3" in str(c)
    assert not queue.is_drained(), "a queue with delayed tasks is not drained"
    fake_clock.advance(60)
    queue.promote_due()
    c = queue.conservation()
    assert (c.pending, c.delayed, c.enqueued) == (5, 0, 5) and c.holds, c


def test_a_worker_runs_a_delayed_task_once_and_not_before_its_time(redis_client, queue_name,
                                                                   settings, fake_clock):
    """A forever worker promotes in its chores; the fake clock decides when the task is due."""
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name, settings=settings.replace(
        heartbeat_interval=0.05, reap_interval=0.05, claim_timeout=0.05,
        run_ledger=QueueKeys(queue_name).runs))
    started: dict[str, float] = {}
    handlers = HandlerRegistry()

    @handlers.register("when")
    def when(data, context):
        started[data["name"]] = fake_clock()
        return {"ok": True}

    later = queue.add_task({"type": "when", "name": "later"}, delay=60)
    due = fake_clock() + 60
    now = queue.add_task({"type": "when", "name": "now"})
    promotions = threading.Semaphore(0)
    real_promote = queue.promote_due

    def counted_promote(*args, **kwargs):
        try:
            return real_promote(*args, **kwargs)
        finally:
            promotions.release()

    queue.promote_due = counted_promote  # the worker's chores call it through the queue
    worker = RedisWorker("w1", queue, handlers=handlers, log=None)
    thread = threading.Thread(target=worker.start, kwargs={"burst": False, "handle_signals": False})
    thread.start()
    try:
        wait_until(lambda: queue.get_task_info(now).status is TaskStatus.COMPLETED,
                   what="the task without a delay to complete")
        for _ in range(3):  # three promotions ran, all before the due time
            assert promotions.acquire(timeout=30), "the worker's chores stopped promoting"
        assert "later" not in started and queue.get_task_info(later).status is TaskStatus.DELAYED
        fake_clock.advance(60)
        wait_until(lambda: queue.get_task_info(later).status is TaskStatus.COMPLETED,
                   what="the delayed task to complete once due")
    finally:
        worker.stop()
        thread.join(30)
    assert not thread.is_alive()
    assert started["later"] >= due, "the delayed task ran before its time"
    assert queue.run_counts() == {now: 1, later: 1}
    report = run_report(queue)
    assert report.holds and report.faults == 0, report
    assert queue.conservation().holds
