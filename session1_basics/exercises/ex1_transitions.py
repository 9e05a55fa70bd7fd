"""Exercise 1: the task state machine.

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

``current``, ``new`` and ``new_status`` may be TaskStatus members or their text
("pending"): ``TaskStatus(x)`` turns either into a member.

Try it without reading session1_basics/task.py (``Task.move_to`` is the finished
version), and do not call ``task.move_to`` here: this exercise is what it does inside.

Check your work:   pytest session1_basics/exercises/test_ex1_transitions.py
              or   python -m workshop check 1
"""

from __future__ import annotations

# InvalidTransitionError is for part 3.
from session1_basics.task import InvalidTransitionError, Task, TaskStatus  # noqa: F401

PENDING, PROCESSING, COMPLETED, FAILED = (
    TaskStatus.PENDING, TaskStatus.PROCESSING, TaskStatus.COMPLETED, TaskStatus.FAILED)


def allowed_next(current: TaskStatus | str) -> frozenset[TaskStatus]:
    """The statuses a task in ``current`` may move to in one step (empty if final).

    Example: ``allowed_next("failed") == frozenset({TaskStatus.PENDING})``.
    """
    # TODO Part 1: the arrows of the module docstring, as something the code can look up.
    #              Rule: a final status has no next status (an empty set, not an error),
    #              and "failed" and TaskStatus.FAILED give the same answer.
    raise NotImplementedError(
        "Exercise 1, part 1: return the statuses reachable from `current` in one move "
        "(hint: make hint SESSION=1 EXERCISE=1)")


def can_transition(current: TaskStatus | str, new: TaskStatus | str) -> bool:
    """True if a task may move from ``current`` to ``new`` in one step."""
    # TODO Part 2: a move is allowed exactly when part 1 allows it; the text and the
    #              member of a status must give the same answer.
    raise NotImplementedError(
        "Exercise 1, part 2: return whether `new` is one of the allowed next statuses "
        "(hint: make hint SESSION=1 EXERCISE=1)")


def move(task: Task, new_status: TaskStatus | str, now: float) -> None:
    """Move ``task`` to ``new_status`` at time ``now``, or raise and change nothing.

    - A move that is not allowed raises
      ``InvalidTransitionError(task.status, new_status, task.id)``, and the task
      must be exactly as it was before the call.
    - To PROCESSING (a claim): ``attempts`` goes up by one, ``started_at = now``,
      ``finished_at = None``.
    - To COMPLETED or FAILED: ``finished_at = now``.
    - Back to PENDING: ``worker_id``, ``started_at`` and ``finished_at`` become None.
    - Then ``task.status`` is the new status (a TaskStatus member, not a string).
    """
    # TODO Part 3: a refused move leaves the task exactly as it was (decide before you
    #              change anything); an allowed one keeps every field of the docstring true.
    raise NotImplementedError(
        "Exercise 1, part 3: refuse a move that is not allowed, otherwise update the status "
        "and the bookkeeping (hint: make hint SESSION=1 EXERCISE=1)")
