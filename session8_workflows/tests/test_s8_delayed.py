"""Delayed tasks on a ``WorkflowQueue``: session 5's ``add_task(data, run_at=...)`` / ``delay=``.

Session 8 adds no machinery of its own for them: the task waits in session 5's
delayed set and the promotion every worker runs makes it pending once. A fake
clock moves time; promotions are direct calls (what every worker's periodic
chores and the scheduler do).
"""

import json

import pytest

from session5_recovery.workers import DuplicateTaskError, TaskStatus
from session8_workflows import WorkflowQueue

pytestmark = pytest.mark.redis


def test_a_delayed_task_waits_in_session_5s_delayed_set(queue, fake_clock):
    task_id = queue.add_task({"type": "noop"}, delay=30, task_id="later-1")
    assert task_id == "later-1"
    assert queue.locate(task_id) == ["delayed"] and queue.staged() == []
    assert queue.get_task_info(task_id).due_at == fake_clock() + 30
    assert queue.get_stats()["delayed"] == 1 and queue.conservation().holds
    assert queue.get_task("w1", timeout=0) is None, "a task due in 30 s was claimable at once"
    fake_clock.advance(29.9)
    assert queue.promote_due() == 0, "promoted 0.1 s before its due time"
    fake_clock.advance(0.1)
    assert queue.promote_due() == 1
    task = queue.get_task("w1", timeout=0)
    assert task is not None and task.id == "later-1" and task.data == {"type": "noop"}
    assert queue.conservation().holds


def test_two_promoters_enqueue_a_due_task_once(queue, redis_client, settings, fake_clock):
    queue.add_task({"type": "noop"}, delay=1, task_id="once")
    other = WorkflowQueue(client=redis_client, queue_name=queue.queue_name, settings=settings)
    fake_clock.advance(1)
    assert queue.promote_due() + other.promote_due() == 1
    assert queue.locate("once") == ["pending"] and queue.get_stats()["enqueued"] == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"run_at": 0.0}, "in the past"),
    ({"delay": -1}, "delay must be >= 0"),
    ({"delay": float("nan")}, "finite number"),
    ({"delay": 1, "run_at": 2e6}, "not both"),
])
def test_bad_times_are_refused_before_anything_is_written(queue, kwargs, message):
    with pytest.raises(ValueError, match=message):
        queue.add_task({"type": "noop"}, **kwargs)
    assert queue.get_stats()["enqueued"] == 0


def test_an_id_that_is_delayed_or_held_is_refused(queue):
    queue.add_task({"type": "noop"}, task_id="x")
    with pytest.raises(DuplicateTaskError):
        queue.add_task({"type": "noop"}, task_id="x", delay=5)
    queue.add_task({"type": "noop"}, task_id="y", delay=5)
    with pytest.raises(DuplicateTaskError):
        queue.add_task({"type": "noop"}, task_id="y", delay=9)
    assert queue.list_ids(TaskStatus.DELAYED) == ["y"]


def test_data_that_is_not_a_task_is_refused_when_added_not_when_due(queue):
    with pytest.raises(TypeError, match="must be a dict"):
        queue.add_task(["not", "a", "dict"], delay=5)
    with pytest.raises(ValueError, match="task_id"):
        queue.add_task({"type": "noop"}, delay=5, task_id="has spaces")
    assert queue.get_stats()["enqueued"] == 0


def test_the_workers_periodic_chores_promote_delayed_tasks(queue, fake_clock):
    """Session 5's ``maintain()`` (run by every worker's heartbeat thread) calls promote_due."""
    queue.add_task({"type": "noop"}, delay=2, task_id="chore")
    fake_clock.advance(2)
    queue.maintain()
    assert queue.task_status("chore") is TaskStatus.PENDING


def test_show_prints_a_delayed_task_with_its_due_time(queue, redis_url, capsys):
    """``show <id>`` reads session 5's record: status delayed, and when it is due."""
    from session8_workflows.cli import main

    due = queue.settings.clock() + 3600
    queue.add_task({"type": "noop"}, run_at=due, task_id="show-me")
    assert main(["show", "show-me", "--json", "--redis-url", redis_url,
                 "--queue", queue.queue_name]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["status"], record["due"], record["attempts"]) == ("delayed", due, 0)
