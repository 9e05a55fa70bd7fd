"""Task and TaskStatus: the state machine, the bookkeeping, and the JSON round trip."""

from __future__ import annotations

import itertools
import json

import pytest

from session1_basics.task import (
    ALLOWED_TRANSITIONS,
    InvalidTransitionError,
    Task,
    TaskStatus,
    as_json_object,
)

P, R, C, F = (TaskStatus.PENDING, TaskStatus.PROCESSING, TaskStatus.COMPLETED, TaskStatus.FAILED)

# The arrows of the state machine, written out independently of the code under test.
EXPECTED_ARROWS = {(P, R), (R, C), (R, F), (R, P), (F, P)}
ALL_PAIRS = list(itertools.product(TaskStatus, TaskStatus))


def task_in(status: TaskStatus) -> Task:
    return Task({"n": 1}, id="t1", status=status)


class TestStatus:
    def test_values_are_the_documented_strings(self):
        assert [s.value for s in TaskStatus] == ["pending", "processing", "completed", "failed"]

    def test_status_is_text(self):
        assert TaskStatus.PENDING == "pending"
        assert str(TaskStatus.FAILED) == "failed"
        assert f"{TaskStatus.COMPLETED}" == "completed"
        assert json.dumps(TaskStatus.PROCESSING) == '"processing"'


class TestTransitions:
    def test_table_matches_the_documented_arrows(self):
        arrows = {(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets}
        assert arrows == EXPECTED_ARROWS
        assert set(ALLOWED_TRANSITIONS) == set(TaskStatus), "every status needs an entry"
        assert all(isinstance(v, frozenset) for v in ALLOWED_TRANSITIONS.values())

    @pytest.mark.parametrize(("current", "new"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
    def test_move_to_allows_exactly_the_arrows(self, current, new):
        task = task_in(current)
        if (current, new) in EXPECTED_ARROWS:
            task.move_to(new, now=5.0)
            assert task.status is new
        else:
            before = task.to_dict()
            with pytest.raises(InvalidTransitionError):
                task.move_to(new, now=5.0)
            assert task.to_dict() == before, "a refused move must change nothing"

    def test_move_to_accepts_the_status_text(self):
        task = task_in(P)
        task.move_to("processing", now=1.0)
        assert task.status is R

    def test_error_message_names_the_move_and_the_allowed_ones(self):
        task = task_in(C)
        with pytest.raises(InvalidTransitionError) as caught:
            task.move_to(P, now=1.0)
        message = str(caught.value)
        assert "t1" in message and "from completed to pending" in message
        assert "final" in message
        error = caught.value
        assert (error.current, error.requested, error.task_id) == (C, P, "t1")
        assert isinstance(error, ValueError)

    def test_error_message_lists_allowed_moves_in_order(self):
        message = str(InvalidTransitionError(R, R))
        assert "a task" in message
        assert message.endswith("from processing a task may move to: pending, completed, failed")

    def test_error_with_hint(self):
        error = InvalidTransitionError("pending", "completed", "abc", hint="Claim it first")
        assert str(error).endswith("Claim it first")


class TestBookkeeping:
    def test_full_life_with_a_retry(self):
        task = Task({"n": 1})
        assert (task.status, task.attempts) == (P, 0)
        task.move_to(R, now=10.0)
        assert (task.attempts, task.started_at, task.finished_at) == (1, 10.0, None)
        task.worker_id, task.error = "w1", "boom"
        task.move_to(F, now=11.0)
        assert task.finished_at == 11.0
        task.move_to(P, now=12.0)  # retry
        assert (task.worker_id, task.started_at, task.finished_at) == (None, None, None)
        assert task.error == "boom", "the last error is kept for whoever looks"
        task.move_to(R, now=13.0)
        assert (task.attempts, task.started_at) == (2, 13.0)
        task.move_to(C, now=14.5)
        assert (task.status, task.finished_at, task.attempts) == (C, 14.5, 2)

    def test_requeue_from_processing(self):
        task = Task({"n": 1})
        task.move_to(R, now=1.0)
        task.worker_id = "w1"
        task.move_to(P, now=2.0)
        assert (task.status, task.worker_id, task.attempts) == (P, None, 1)

    def test_ids_are_unique_strings(self):
        ids = {Task({}).id for _ in range(1000)}
        assert len(ids) == 1000 and all(isinstance(i, str) and len(i) == 32 for i in ids)

    @pytest.mark.parametrize("bad", [None, "text", [1, 2], 42])
    def test_data_must_be_a_dict(self, bad):
        with pytest.raises(TypeError, match="must be a dict"):
            Task(bad)

    def test_unknown_status_text_is_refused(self):
        with pytest.raises(ValueError, match="'done' is not a valid TaskStatus"):
            Task({}, status="done")


class TestJson:
    def make_finished_task(self) -> Task:
        task = Task({"image_path": "in.jpg", "filters": ["blur:radius=2"], "nested": {"k": [1, 2.5]}},
                    created_at=1.0)
        task.move_to(R, now=2.0)
        task.worker_id = "worker-1"
        task.move_to(C, now=3.0)
        task.result = {"output_path": "out.jpg", "seconds": 0.25}
        return task

    def test_to_dict_is_plain_json(self):
        d = self.make_finished_task().to_dict()
        assert d["status"] == "completed" and type(d["status"]) is str
        assert json.loads(json.dumps(d)) == d
        assert set(d) == {"data", "id", "status", "attempts", "created_at", "started_at",
                          "finished_at", "worker_id", "result", "error"}

    def test_dict_round_trip(self):
        task = self.make_finished_task()
        again = Task.from_dict(task.to_dict())
        assert again == task and again.status is C

    def test_json_round_trip(self):
        task = self.make_finished_task()
        text = task.to_json()
        assert isinstance(text, str)
        again = Task.from_json(text)
        assert again == task
        assert again.to_json() == text

    def test_to_dict_and_from_dict_copy_deeply(self):
        task = self.make_finished_task()
        d = task.to_dict()
        d["data"]["nested"]["k"].append(99)
        assert task.data["nested"]["k"] == [1, 2.5]
        again = Task.from_dict(d)
        d["data"]["nested"]["k"].clear()
        assert again.data["nested"]["k"] == [1, 2.5, 99]

    def test_from_dict_refuses_unknown_fields(self):
        d = Task({}).to_dict() | {"colour": "red"}
        with pytest.raises(ValueError, match=r"unknown task field\(s\) \['colour'\]"):
            Task.from_dict(d)

    def test_from_dict_needs_data(self):
        with pytest.raises(ValueError, match="needs a 'data' field"):
            Task.from_dict({"id": "x"})

    def test_from_dict_needs_a_dict(self):
        with pytest.raises(TypeError, match="needs a dict"):
            Task.from_dict('{"data": {}}')

    def test_from_json_reports_bad_json(self):
        with pytest.raises(json.JSONDecodeError):
            Task.from_json("{not json")


class TestAsJsonObject:
    def test_returns_a_json_copy(self):
        original = {"t": (1, 2), "n": {"x": None}}
        copied = as_json_object(original)
        assert copied == {"t": [1, 2], "n": {"x": None}}
        original["n"]["x"] = 5
        assert copied["n"]["x"] is None

    @pytest.mark.parametrize("bad", [{"s": {1, 2}}, {"o": object()}, {"nan": float("nan")},
                                     {"b": b"bytes"}])
    def test_refuses_what_json_cannot_carry(self, bad):
        with pytest.raises(TypeError, match="must be JSON-serialisable") as caught:
            as_json_object(bad, "task data")
        assert "str(path)" in str(caught.value), "the message should say how to fix it"

    def test_names_the_value_in_the_message(self):
        with pytest.raises(TypeError, match="^result must be a dict"):
            as_json_object("ok", "result")
