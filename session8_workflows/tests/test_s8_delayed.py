"""Delayed tasks: ``add_task(data, run_at=...)`` / ``delay=``, staged, then enqueued once.

A fake clock moves time; promotions are direct calls (what every worker's
periodic chores and the scheduler do).
"""

import pytest

from session5_recovery.workers import DuplicateTaskError, TaskStatus
from session8_workflows import WorkflowQueue

pytestmark = pytest.mark.redis


def test_a_delayed_task_waits_then_is_enqueued_under_its_id(queue, fake_clock):
    task_id = queue.add_task({"type": "noop"}, delay=30, task_id="later-1")
    assert task_id == "later-1"
    assert queue.staged() == [("later-1", fake_clock() + 30)]
    assert queue.get_task("w1", timeout=0) is None, "a task due in 30 s was claimable at once"
    fake_clock.advance(29.9)
    assert queue.promote_due() == 0, "promoted 0.1 s before its due time"
    fake_clock.advance(0.1)
    assert queue.promote_due() == 1
    assert queue.staged() == []
    task = queue.get_task("w1", timeout=0)
    assert task is not None and task.id == "later-1" and task.data == {"type": "noop"}
    assert queue.conservation().holds


def test_run_at_and_delay_give_the_same_due_time(queue, fake_clock):
    queue.add_task({"type": "noop"}, run_at=fake_clock() + 5, task_id="a")
    queue.add_task({"type": "noop"}, delay=5, task_id="b")
    assert [due for _, due in queue.staged()] == [fake_clock() + 5] * 2


def test_a_promotion_repeated_after_a_crash_enqueues_once(queue, redis_client, settings,
                                                          fake_clock):
    """Promoter A enqueues and dies before unstaging; promoter B finds it due again."""
    queue.add_task({"type": "noop"}, delay=1, task_id="once")
    fake_clock.advance(1)
    # A's first half: session 5's enqueue under the staged id, then A dies (no unstage).
    super(WorkflowQueue, queue).add_task({"type": "noop"}, task_id="once")
    other = WorkflowQueue(client=redis_client, queue_name=queue.queue_name, settings=settings)
    assert other.promote_due() == 0, "the repeated promotion enqueued the task a second time"
    assert other.staged() == [], "the refused promotion must still unstage the task"
    assert queue.get_stats()["enqueued"] == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"run_at": 0.0}, "in the past"),
    ({"delay": -1}, "delay must be >= 0"),
    ({"delay": float("nan")}, "finite number"),
    ({"delay": 1, "run_at": 2e6}, "not both"),
])
def test_bad_times_are_refused_before_anything_is_written(queue, kwargs, message):
    with pytest.raises(ValueError, match=message):
        queue.add_task({"type": "noop"}, **kwargs)
    assert queue.staged() == [] and queue.get_stats()["enqueued"] == 0


def test_an_id_that_is_staged_or_held_is_refused(queue):
    queue.add_task({"type": "noop"}, task_id="x")
    with pytest.raises(DuplicateTaskError):
        queue.add_task({"type": "noop"}, task_id="x", delay=5)
    queue.add_task({"type": "noop"}, task_id="y", delay=5)
    with pytest.raises(DuplicateTaskError):
        queue.add_task({"type": "noop"}, task_id="y", delay=9)
    assert queue.staged()[0][0] == "y" and len(queue.staged()) == 1


def test_data_that_is_not_a_task_is_refused_when_added_not_when_due(queue):
    with pytest.raises(TypeError, match="must be a dict"):
        queue.add_task(["not", "a", "dict"], delay=5)
    with pytest.raises(ValueError, match="task_id"):
        queue.add_task({"type": "noop"}, delay=5, task_id="has spaces")
    assert queue.staged() == []


def test_the_workers_periodic_chores_promote_staged_tasks(queue, fake_clock):
    """Session 5's ``maintain()`` (run by every worker's heartbeat thread) calls promote_due."""
    queue.add_task({"type": "noop"}, delay=2, task_id="chore")
    fake_clock.advance(2)
    queue.maintain()
    assert queue.task_status("chore") is TaskStatus.PENDING
