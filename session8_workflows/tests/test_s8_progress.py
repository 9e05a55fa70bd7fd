"""``context.progress(done, total, message)``: on the task's record and in the event stream."""

import pytest

from session5_recovery.workers import TaskContext
from session8_workflows import ProgressContext, make_worker
from session8_workflows.handlers import demo_handlers

pytestmark = pytest.mark.redis


def context_for(queue, task, **kwargs):
    return ProgressContext(task_id=task.id, attempt=task.attempts, worker_id=task.worker_id,
                           pipeline=None, allowed_dirs=(), queue=queue, **kwargs)


def progress_events(queue):
    return [(e.task_id, e.fields["done"], e.fields["total"], e.fields["message"])
            for e in queue.events(None) if e.name == "progress"]


def test_a_report_lands_on_the_record_and_in_the_stream(queue):
    task_id = queue.add_task({"type": "noop"})
    ctx = context_for(queue, queue.get_task("w1", timeout=0))
    assert ctx.progress(450, 10_000, "sent") is True
    fields = queue.client.hmget(queue.keys.task(task_id), "progress_done", "progress_total",
                                "progress_message")
    assert fields == ["450", "10000", "sent"]
    assert progress_events(queue) == [(task_id, "450", "10000", "sent")]


def test_a_tight_loop_is_throttled_and_the_last_report_always_goes(queue):
    queue.add_task({"type": "noop"})
    ctx = context_for(queue, queue.get_task("w1", timeout=0), min_interval=3600)
    written = [ctx.progress(i, 1000) for i in range(1001)]
    assert written.count(True) == 2, "the first and the final report only, in an hour"
    assert written[0] and written[-1]
    assert [e[1] for e in progress_events(queue)] == ["0", "1000"]


def test_a_worker_that_lost_the_task_cannot_report(queue):
    queue.add_task({"type": "noop"})
    task = queue.get_task("w1", timeout=0)
    queue.client.delete(queue.keys.heartbeat("w1"))
    queue.reap()  # w1 was taken for dead; the task went back to pending
    assert context_for(queue, task).progress(1, 2) is False
    assert progress_events(queue) == []


@pytest.mark.parametrize("done, total", [(-1, 5), (6, 5), (1.5, 5), (True, 5)])
def test_bad_numbers_are_a_clear_error(queue, done, total):
    ctx = context_for(queue, type("T", (), {"id": "x", "attempts": 1, "worker_id": "w1"}))
    with pytest.raises(ValueError, match="progress: "):
        ctx.progress(done, total)


def test_handlers_get_the_context_from_a_real_worker(queue):
    seen = []
    base = demo_handlers()

    @base.register("count")
    def count(data, context):
        assert isinstance(context, TaskContext)
        for i in range(1, 4):
            seen.append(context.progress(i, 3, f"step {i}"))
        return {"ok": True}

    task_id = queue.add_task({"type": "count"})
    worker = make_worker("w1", queue, types=base, log=None)
    assert worker.start(burst=True, handle_signals=False).completed == 1
    assert seen[0] and seen[-1]
    assert progress_events(queue)[-1] == (task_id, "3", "3", "step 3")


def test_a_task_names_its_ledger_and_cannot_choose_a_key(queue):
    from session8_workflows.handlers import ledger_key

    queue.add_task({"type": "record", "ledger": "runs"}, task_id="t1")
    queue.add_task({"type": "record", "ledger": "{other}:pending"}, task_id="t2")
    counts = make_worker("w1", queue, log=None).start(burst=True, handle_signals=False)
    assert counts.completed == 1 and counts.dead_lettered == 1
    assert queue.client.hgetall(ledger_key(queue, "runs")) == {"t1": "1"}
    assert "'ledger' must be a name" in queue.get_task_info("t2").reason
