"""The life of one task, step by step, including a move the state machine refuses.

Run it from the repository root:    python session1_basics/demos/demo_task_lifecycle.py
or from inside session1_basics:     python demos/demo_task_lifecycle.py

Part 1 moves a Task by hand with ``move_to``: claimed, failed, retried,
claimed again, completed; then an attempt to send the finished task back to
pending, which is refused. Part 2 does the same through a TaskQueue, which
also refuses to complete a task that nobody claimed, and to find an unknown id.
Times come from a clock that moves only when the demo says so, so they are easy to read.
"""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from session1_basics import (
    ALLOWED_TRANSITIONS,
    InvalidTransitionError,
    Task,
    TaskNotFoundError,
    TaskQueue,
    TaskStatus,
)
from workshop.testing import FakeClock

console = Console(highlight=False, soft_wrap=True)


def rules_table() -> Table:
    table = Table(title="ALLOWED_TRANSITIONS")
    table.add_column("from")
    table.add_column("may move to")
    for status, targets in ALLOWED_TRANSITIONS.items():
        moves = ", ".join(s.value for s in TaskStatus if s in targets)
        table.add_row(status.value, moves or "(nothing: final)")
    return table


def show(step: str, task: Task) -> None:
    """One line per step: what happened, then the fields that changed because of it."""
    fields = [f"status={task.status.value:<10}", f"attempts={task.attempts}",
              f"started_at={task.started_at}", f"finished_at={task.finished_at}",
              f"worker={task.worker_id}"]
    if task.error:
        fields.append(f"error={task.error!r}")
    if task.result:
        fields.append(f"result={json.dumps(task.result)}")
    console.print(f"  {step:<30} {escape(' '.join(fields))}")


def refused(what: str, error: Exception) -> None:
    console.print(f"  [red]{escape(what)} -> refused[/red]\n"
                  f"      {type(error).__name__}: {escape(str(error))}")


def by_hand() -> None:
    console.rule("Part 1: one Task, moved by hand with task.move_to(status, now)")
    task = Task({"image_path": "photos/cat.jpg", "filter": "blur"}, id="task-1", created_at=0.0)
    show("t=0  created", task)

    task.move_to(TaskStatus.PROCESSING, now=1.0)
    task.worker_id = "worker-1"
    show("t=1  claimed by worker-1", task)

    task.move_to(TaskStatus.FAILED, now=3.0)
    task.error = "TimeoutError: disk not ready"
    show("t=3  failed", task)

    task.move_to(TaskStatus.PENDING, now=5.0)
    show("t=5  retried (back to pending)", task)

    task.move_to(TaskStatus.PROCESSING, now=6.0)
    task.worker_id = "worker-2"
    show("t=6  claimed by worker-2", task)

    task.move_to(TaskStatus.COMPLETED, now=7.5)
    task.result = {"output_path": "output/cat.jpg"}
    show("t=7.5 completed", task)

    try:
        task.move_to(TaskStatus.PENDING, now=8.0)
    except InvalidTransitionError as error:
        refused("t=8  completed -> pending", error)
    show("      after the refusal", task)
    console.print("\n  As JSON (what a queue in another process would store):")
    console.print(f"  {escape(task.to_json())}")
    console.print("\nNotice: attempts went up at each claim (2 in the end), not at each failure.")
    console.print("Notice: the first attempt's error is kept after the retry, as history of "
                  "why the task was tried again.")
    console.print("Notice: the refused move changed nothing: the task is still completed.\n")


def through_a_queue() -> None:
    console.rule("Part 2: the same life through a TaskQueue")
    clock = FakeClock(start=0.0)  # a clock that moves only when we say
    queue = TaskQueue(clock=clock)

    task_id = queue.add_task({"image_path": "photos/dog.jpg", "filter": "edges"})
    console.print(f"  queue.add_task(...) returned the id {task_id}")
    show("t=0  after add_task", queue.get_task_info(task_id))

    try:
        queue.mark_completed(task_id, {"output_path": "output/dog.jpg"})
    except InvalidTransitionError as error:
        refused("mark_completed before anyone claimed it", error)

    clock.advance(1)
    task = queue.get_task("worker-1", timeout=1)
    assert task is not None
    show("t=1  get_task('worker-1')", task)

    clock.advance(2)
    queue.mark_completed(task.id, {"output_path": "output/dog.jpg"})
    show("t=3  mark_completed", queue.get_task_info(task_id))

    console.print(f"  get_task_info('1234abcd') -> {queue.get_task_info('1234abcd')}")
    try:
        queue.mark_completed("1234abcd")
    except TaskNotFoundError as error:
        refused("mark_completed('1234abcd')", error)

    console.print(f"\n  queue.get_stats() = {queue.get_stats()}")
    console.print("\nNotice: the queue, not the worker, moves the status, so the state machine "
                  "is enforced for everyone.")
    console.print("Notice: each error says what was wrong and what to do instead.")


def main() -> None:
    console.print(rules_table())
    console.print()
    by_hand()
    through_a_queue()


if __name__ == "__main__":
    main()
