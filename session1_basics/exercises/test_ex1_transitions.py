"""Tests for exercise 1: the task state machine.

Run:  pytest session1_basics/exercises/test_ex1_transitions.py
"""

from __future__ import annotations

import itertools

import pytest

from session1_basics.task import InvalidTransitionError, Task, TaskStatus
from workshop.exercises import load_exercise

ex = load_exercise(__file__)  # the learner's file, the solution, or a mutant

P, R, C, F = (TaskStatus.PENDING, TaskStatus.PROCESSING, TaskStatus.COMPLETED, TaskStatus.FAILED)
EXPECTED_NEXT = {P: {R}, R: {C, F, P}, C: set(), F: {P}}
ALL_PAIRS = [pytest.param(a, b, id=f"{a.value}->{b.value}")
             for a, b in itertools.product(TaskStatus, TaskStatus)]
ALLOWED_PAIRS = [p for p in ALL_PAIRS if p.values[1] in EXPECTED_NEXT[p.values[0]]]
REFUSED_PAIRS = [p for p in ALL_PAIRS if p.values[1] not in EXPECTED_NEXT[p.values[0]]]


def names(statuses) -> list[str]:
    return sorted(TaskStatus(s).value for s in statuses)


def fresh_task(status: TaskStatus = P) -> Task:
    """A task in ``status`` whose fields look as they would after a normal life so far."""
    task = Task({"image_path": "cat.jpg"}, id="task-1", status=status, created_at=0.0)
    if status is R:
        task.attempts, task.started_at, task.worker_id = 1, 1.0, "worker-1"
    elif status in (C, F):
        task.attempts, task.started_at, task.finished_at, task.worker_id = 1, 1.0, 2.0, "worker-1"
    return task


class TestPart1_AllowedNext:
    @pytest.mark.parametrize("status", list(TaskStatus), ids=lambda s: s.value)
    def test_the_arrows_from_each_status(self, status):
        got = ex.allowed_next(status)
        assert set(got) == EXPECTED_NEXT[status], (
            f"allowed_next({status.value!r}) returned {names(got)}; "
            f"expected {names(EXPECTED_NEXT[status])}")

    def test_completed_is_final(self):
        got = ex.allowed_next(C)
        assert not got, (f"allowed_next('completed') returned {names(got)}; expected nothing: a "
                         f"completed task must never run again by accident")

    def test_accepts_the_status_text(self):
        got = ex.allowed_next("processing")
        assert set(got) == {C, F, P}, (
            f"allowed_next('processing') returned {names(got)}; expected the same as for "
            f"TaskStatus.PROCESSING: convert with TaskStatus(current)")

    def test_returns_statuses_not_strings(self):
        got = ex.allowed_next(P)
        assert all(isinstance(s, TaskStatus) for s in got), (
            f"allowed_next('pending') returned {got!r}; expected TaskStatus members")


class TestPart2_CanTransition:
    @pytest.mark.parametrize(("current", "new"), ALL_PAIRS)
    def test_every_pair(self, current, new):
        expected = new in EXPECTED_NEXT[current]
        got = ex.can_transition(current, new)
        assert got is expected, (
            f"can_transition({current.value!r}, {new.value!r}) returned {got!r}; "
            f"expected {expected}")

    def test_accepts_the_status_text(self):
        assert ex.can_transition("failed", "pending") is True, (
            "can_transition('failed', 'pending') should be True (a retry)")
        assert ex.can_transition("completed", "pending") is False, (
            "can_transition('completed', 'pending') should be False (completed is final)")

    def test_unknown_status_text_is_an_error(self):
        with pytest.raises(ValueError):
            ex.can_transition("pending", "done")


class TestPart3_Move:
    @pytest.mark.parametrize(("current", "new"), ALLOWED_PAIRS)
    def test_allowed_moves_change_the_status(self, current, new):
        task = fresh_task(current)
        ex.move(task, new, now=5.0)
        assert task.status is new, (
            f"move(task in {current.value}, {new.value!r}) left status={task.status!r}; "
            f"expected TaskStatus.{new.name}")

    @pytest.mark.parametrize(("current", "new"), REFUSED_PAIRS)
    def test_refused_moves_raise_and_change_nothing(self, current, new):
        task = fresh_task(current)
        before = task.to_dict()
        with pytest.raises(InvalidTransitionError) as caught:
            ex.move(task, new, now=5.0)
        after = task.to_dict()
        changed = {k: f"{before[k]!r} -> {after[k]!r}" for k in before if before[k] != after[k]}
        assert not changed, (
            f"move(task in {current.value}, {new.value!r}) raised, but changed the task on the "
            f"way: {changed}. Check before you change anything")
        assert f"from {current.value} to {new.value}" in str(caught.value), (
            f"the error message should name the move; got: {caught.value}")

    def test_claim_counts_an_attempt_and_stamps_the_start(self):
        task = fresh_task(P)
        ex.move(task, R, now=10.0)
        assert (task.attempts, task.started_at, task.finished_at) == (1, 10.0, None), (
            f"after move(pending task, 'processing', now=10.0): attempts={task.attempts}, "
            f"started_at={task.started_at}, finished_at={task.finished_at}; expected 1, 10.0, None")

    def test_claim_clears_an_old_finished_at(self):
        # A pending task can carry the end time of an earlier attempt (put back by code
        # that set only its status, or loaded from a record written that way). The
        # claim starts a new attempt, so it must not keep the old end.
        task = fresh_task(P)
        task.finished_at = 3.0
        ex.move(task, R, now=10.0)
        assert task.finished_at is None, (
            f"a pending task with finished_at=3.0 from an earlier attempt was claimed at 10.0 "
            f"and kept finished_at={task.finished_at}: a claim sets finished_at = None")

    @pytest.mark.parametrize("end", [C, F], ids=["completed", "failed"])
    def test_finishing_stamps_the_end_and_keeps_the_attempts(self, end):
        task = fresh_task(R)
        ex.move(task, end, now=12.5)
        assert (task.finished_at, task.started_at, task.attempts) == (12.5, 1.0, 1), (
            f"after move(processing task, {end.value!r}, now=12.5): finished_at={task.finished_at}, "
            f"started_at={task.started_at}, attempts={task.attempts}; expected 12.5, 1.0, 1 "
            f"(only a claim counts an attempt)")

    @pytest.mark.parametrize("start", [R, F], ids=["requeue", "retry"])
    def test_back_to_pending_frees_the_task(self, start):
        task = fresh_task(start)
        ex.move(task, P, now=20.0)
        assert (task.worker_id, task.started_at, task.finished_at) == (None, None, None), (
            f"after move({start.value} task, 'pending'): worker_id={task.worker_id!r}, "
            f"started_at={task.started_at}, finished_at={task.finished_at}; expected all None")
        assert task.attempts == 1, f"attempts became {task.attempts}; expected it to stay 1"

    def test_a_whole_life_with_a_retry(self):
        task = fresh_task(P)
        for status, now in [(R, 1.0), (F, 2.0), (P, 3.0), (R, 4.0), (C, 5.0)]:
            ex.move(task, status.value, now=now)  # the text works as well as the member
            assert isinstance(task.status, TaskStatus), (
                f"after move(task, {status.value!r}, ...) task.status is {task.status!r}, a "
                f"{type(task.status).__name__}; expected a TaskStatus member: store "
                f"TaskStatus(new_status)")
        assert (task.status, task.attempts, task.started_at, task.finished_at) == (C, 2, 4.0, 5.0), (
            f"after claim, fail, retry, claim, complete: status={task.status!r}, "
            f"attempts={task.attempts}, started_at={task.started_at}, finished_at={task.finished_at}; "
            f"expected completed, 2, 4.0, 5.0")
