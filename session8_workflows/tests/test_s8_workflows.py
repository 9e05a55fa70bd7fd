"""chain, group and chord: compiled, checked, counted down, and never waiting for ever.

Most tests call the engine directly (what a worker's handler wrapper calls when a
node finishes) so every interleaving is chosen by the test; the last ones run a
real session 5 worker in this thread, in burst mode.
"""

import json
import subprocess
import sys

import pytest

from session5_recovery.workers import TaskStatus
from session8_workflows import (
    WorkflowError,
    chain,
    chord,
    compile_workflow,
    demo_handlers,
    group,
    make_worker,
)
from session8_workflows.cli import format_tree

pytestmark = pytest.mark.redis

KNOWN = demo_handlers().names()


def rec(value):
    return {"type": "record", "value": value}


def claim_all(queue, worker="w1"):
    """Claim every pending task; their ids in claim order."""
    ids = []
    while (task := queue.get_task(worker, timeout=0)) is not None:
        ids.append(task.id)
    return ids


# --- compiling -------------------------------------------------------------------------


class TestCompile:
    def test_a_chain_waits_step_by_step(self):
        nodes = compile_workflow(chain(rec(1), rec(2), rec(3)))
        assert [(n.name, n.parents, n.gather) for n in nodes] == [
            ("0", (), False), ("1", ("0",), False), ("2", ("1",), False)]

    def test_a_chord_callback_gathers_every_member(self):
        nodes = compile_workflow(chord(group([rec(i) for i in range(3)]), rec("cb")))
        assert nodes[-1].parents == ("0", "1", "2") and nodes[-1].gather
        assert nodes[0].dependents == ("3",)

    def test_nesting_a_chord_in_a_chain(self):
        nodes = compile_workflow(chain(chord(group([rec(0), rec(1)]), rec("sheet")), rec("zip")))
        assert nodes[3].parents == ("2",) and not nodes[3].gather


class TestBadInput:
    """Each one line, raised before anything is written."""

    def deep(self, levels):
        piece = rec(0)
        for _ in range(levels):
            piece = chain(piece)
        return piece

    def cyclic(self):
        g = group([rec(0)])
        g.tasks.append(chain(rec(1), g))
        return g

    @pytest.mark.parametrize("make, message", [
        (lambda self: self.cyclic(), "contains a cycle"),
        (lambda self: self.deep(10_000), "nests more than 32 levels deep"),
        (lambda self: chord(group([rec(1)]), {"type": "no_such_type"}),
         "type 'no_such_type', which no worker runs"),
        (lambda self: group([]), "an empty group"),
        (lambda self: chain(rec(1), "not a task"), "found str"),
    ])
    def test_refused_with_one_line_and_nothing_written(self, queue, written, make, message):
        with pytest.raises(WorkflowError, match=message) as caught:
            queue.workflows.start(make(self), known_types=KNOWN)
        assert "\n" not in str(caught.value)
        assert written() == [], "a refused workflow left keys behind"

    def test_an_unregistered_type_is_refused_by_default(self, queue, written):
        with pytest.raises(WorkflowError, match="type 'resize', which no worker runs"):
            queue.workflows.start(chord(group([rec(1)]), {"type": "resize"}))
        assert written() == []
        queue.workflows.start({"type": "resize"}, known_types=["resize"])  # its own workers

    def test_an_unknown_failure_policy(self, queue, written):
        with pytest.raises(WorkflowError, match="on_failure must be"):
            queue.workflows.start(rec(1), on_failure="retry")
        assert written() == []

    def test_an_id_is_used_once(self, queue):
        queue.workflows.start(rec(1), workflow_id="wf-1")
        with pytest.raises(WorkflowError, match="exists already"):
            queue.workflows.start(rec(2), workflow_id="wf-1")


# --- counting down ------------------------------------------------------------------------


def test_the_chord_callback_is_enqueued_once_even_if_the_last_child_is_recorded_twice(queue):
    """The last child's worker died after recording its result; its rerun records it again."""
    wid = queue.workflows.start(chord(group([rec(i) for i in range(3)]), rec("cb")))
    assert claim_all(queue) == [f"{wid}.0", f"{wid}.1", f"{wid}.2"]
    assert queue.workflows.record_success(wid, "0", {"value": 0}) == []
    assert queue.workflows.record_success(wid, "1", {"value": 1}) == []
    assert queue.workflows.record_success(wid, "2", {"value": 2}) == [f"{wid}.3"]
    assert queue.workflows.record_success(wid, "2", {"value": "rerun"}) == [], (
        "the rerun of the last child staged the callback a second time")
    queue.promote_due()
    callback = queue.get_task("w1", timeout=0)
    assert callback.id == f"{wid}.3"
    assert [r["value"] for r in callback.data["results"]] == [0, 1, 2], "first results win"
    assert queue.get_task("w1", timeout=0) is None
    assert queue.get_stats()["enqueued"] == 4


def test_a_large_group_is_in_pending_as_soon_as_it_starts(queue):
    wid = queue.workflows.start(group([rec(i) for i in range(250)]))
    assert queue.get_stats()["pending"] == 250 and queue.staged() == []
    assert queue.workflows.view(wid).total == 250


def test_a_chain_passes_each_result_to_the_next_step(queue):
    wid = queue.workflows.start(chain(rec("a"), rec("b")))
    (first,) = claim_all(queue)
    queue.workflows.record_success(wid, "0", {"value": "A"})
    second = queue.get_task("w1", timeout=0)
    assert second.id == f"{wid}.1" and second.data["previous"] == {"value": "A"}


def dead_letter(queue, task_id, reason="PermanentTaskError: poison"):
    queue.mark_failed(task_id, reason, permanent=True)


def test_fail_policy_ends_the_workflow_with_the_childs_reason(queue):
    wid = queue.workflows.start(chord(group([rec(0), rec(1), rec(2)]), rec("cb")),
                                on_failure="fail")
    first = queue.get_task("w1", timeout=0)
    dead_letter(queue, first.id, "InvalidImageError: not an image")
    assert queue.workflows.sweep() == 1
    view = queue.workflows.view(wid)
    assert view.state == "failed"
    reason = queue.get_task_info(first.id).reason  # session 5's words for the dead-lettering
    assert "InvalidImageError: not an image" in reason
    assert view.reason == f"task 0 ({wid}.0) failed: {reason}"
    # The siblings still pending are cancelled; the callback is never enqueued.
    assert queue.task_status(f"{wid}.1") is TaskStatus.CANCELLED
    assert queue.task_status(f"{wid}.3") is None
    assert queue.workflows.sweep() == 0, "a finished workflow is swept again"


def test_continue_policy_gives_the_callback_the_failure_as_a_result(queue):
    wid = queue.workflows.start(chord(group([rec(0), rec(1)]), rec("cb")), on_failure="continue")
    a, _ = queue.get_task("w1", timeout=0), queue.get_task("w1", timeout=0)
    dead_letter(queue, a.id)
    queue.workflows.record_success(wid, "1", {"value": 1})
    queue.workflows.sweep()
    callback = queue.get_task("w1", timeout=0)
    assert callback is not None, "the callback waits for ever for a dead-lettered child"
    reason = queue.get_task_info(a.id).reason
    assert callback.data["results"] == [{"failed": True, "error": reason}, {"value": 1}]


def test_a_child_dead_lettered_by_the_reaper_does_not_hang_the_workflow(queue, fake_clock):
    """A poison child kills its worker every time: the reaper, not a handler, dead-letters it."""
    wid = queue.workflows.start(chord(group([{"type": "crash"}]), rec("cb")))
    for _ in range(2):  # max_attempts=2 in these tests' settings
        queue.get_task("w1", timeout=0)
        queue.client.delete(queue.keys.heartbeat("w1"))  # w1 died
        queue.reap()
    assert queue.task_status(f"{wid}.0") is TaskStatus.DEAD_LETTERED
    queue.maintain()  # every worker's periodic chores sweep the running workflows
    assert queue.workflows.state(wid) == "failed"
    assert "worker was lost" in queue.workflows.view(wid).reason


# --- with a real worker ---------------------------------------------------------------------


def test_a_worker_runs_a_chain_of_a_chord(queue, tmp_path):
    wid = queue.workflows.start(
        chain(chord(group([rec(i) for i in range(4)]), rec("sheet")), rec("zip")),
        known_types=KNOWN)
    counts = make_worker("w1", queue, log=None).start(burst=True, handle_signals=False)
    assert counts.completed == 6
    view = queue.workflows.view(wid)
    assert view.state == "completed" and view.remaining == 0
    assert queue.get_result(f"{wid}.4") == {"value": "sheet", "values": [0, 1, 2, 3]}
    tree = format_tree(view)
    assert f"└── {wid}.5" in tree and "after 0-3" in tree, tree


def test_show_prints_the_tree(queue, redis_url):
    wid = queue.workflows.start(chord(group([rec(0), rec(1)]), rec("cb")))
    result = subprocess.run(
        [sys.executable, "-m", "session8_workflows", "show", wid, "--redis-url", redis_url,
         "--queue", queue.queue_name], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"workflow {wid}: running (0 of 3 done, policy fail)"
    assert f"{wid}.2" in result.stdout and "waiting (2 left) after 0-1" in result.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "session8_workflows", "show", "nope", "--redis-url", redis_url,
         "--queue", queue.queue_name], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert missing.stderr.strip() == (f"error: no workflow and no task with id 'nope' in queue "
                                      f"{queue.queue_name!r}")


def test_the_event_stream_tells_how_far_a_workflow_is(queue):
    wid = queue.workflows.start(group([rec(0), rec(1)]))
    queue.workflows.record_success(wid, "0", {"value": 0})
    queue.workflows.record_success(wid, "1", {"value": 1})
    events = [(e.name, e.fields.get("done")) for e in queue.events(None)
              if e.name.startswith("workflow")]
    assert events == [("workflow_started", None), ("workflow_progress", "1"),
                      ("workflow_progress", "2"), ("workflow_completed", None)]
    assert json.loads(queue.client.hget(queue.s8.results(wid), "1")) == {"value": 1}
