"""Mistake: a claim stamps the start but forgets ``finished_at = None``: an old end time stays.

Rejected by:
    test_ex1_transitions.py::TestPart3_Move::test_claim_clears_an_old_finished_at
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
    # Check first, change afterwards: a refused move must leave the task as it was.
    if not can_transition(task.status, new):
        raise InvalidTransitionError(task.status, new, task.id)
    if new is PROCESSING:
        task.attempts += 1  # each claim is one attempt
        task.started_at = now
    elif new is PENDING:
        task.worker_id = None  # back in line: nobody's any more
        task.started_at = None
        task.finished_at = None
    else:
        task.finished_at = now
    task.status = new
