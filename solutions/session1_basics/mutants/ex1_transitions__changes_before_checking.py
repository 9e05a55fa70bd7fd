"""Mistake: the status is changed before the move is checked, so a refused move still changes the task.

Rejected by:
    test_ex1_transitions.py::TestPart3_Move::test_refused_moves_raise_and_change_nothing

A plausible wrong solution of exercise 1 (the tests must catch it).

Exercise 1: the task state machine.

A task's status may only move along these arrows:

    pending    -> processing    a worker claims it
    processing -> completed     the work succeeded
    processing -> failed        the work raised an error
    processing -> pending       it was given back unfinished (requeue)
    failed     -> pending       retry
    completed  -> (nothing)     final: finished work is never redone by accident

Part 1: ``allowed_next(current)`` returns the statuses a task may move to next.
Part 2: ``can_transition(current, new)`` says whether one move is allowed.
Part 3: ``move(task, new_status, now)`` makes the move and keeps the bookkeeping
        true, or raises InvalidTransitionError and changes nothing.
"""

from __future__ import annotations

from session1_basics.task import InvalidTransitionError, Task, TaskStatus

PENDING, PROCESSING, COMPLETED, FAILED = (
    TaskStatus.PENDING, TaskStatus.PROCESSING, TaskStatus.COMPLETED, TaskStatus.FAILED)


def allowed_next(current: TaskStatus | str) -> frozenset[TaskStatus]:
    """The statuses a task in ``current`` may move to in one step (empty if final)."""
    rules = {
        PENDING: frozenset({PROCESSING}),
        PROCESSING: frozenset({COMPLETED, FAILED, PENDING}),
        COMPLETED: frozenset(),
        FAILED: frozenset({PENDING}),
    }
    return rules[TaskStatus(current)]


def can_transition(current: TaskStatus | str, new: TaskStatus | str) -> bool:
    """True if a task may move from ``current`` to ``new`` in one step."""
    return TaskStatus(new) in allowed_next(current)


def move(task: Task, new_status: TaskStatus | str, now: float) -> None:
    """Move ``task`` to ``new_status`` at time ``now``, or raise and change nothing."""
    new = TaskStatus(new_status)
    old = task.status
    task.status = new
    if not can_transition(old, new):
        raise InvalidTransitionError(old, new, task.id)
    if new is PROCESSING:
        task.attempts += 1  # each claim is one attempt
        task.started_at = now
        task.finished_at = None
    elif new is PENDING:
        task.worker_id = None  # back in line: nobody's any more
        task.started_at = None
        task.finished_at = None
    else:
        task.finished_at = now
    task.status = new
