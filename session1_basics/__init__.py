"""Session 1: what a task queue is, and why "accept the work" is split from "do the work".

A caller that hands slow work to a queue gets an id back at once and can ask
about the task later; workers take tasks from the queue at their own pace.
This session builds that idea in memory, with threads:

- ``Task`` and ``TaskStatus`` (task.py): a task is JSON data plus its status,
  and the status may only move along the arrows of a small state machine
  (``ALLOWED_TRANSITIONS``); any other move raises ``InvalidTransitionError``.
- ``TaskQueue`` (task_queue.py): a thread-safe FIFO queue with a blocking
  ``get_task(worker_id, timeout)`` built on ``threading.Condition``, plus
  ``mark_completed``, ``mark_failed``, ``get_task_info``, ``get_stats`` and ``join``.

Start with ``python session1_basics/demos/demo_without_queue.py``.
"""

from .task import ALLOWED_TRANSITIONS, InvalidTransitionError, Task, TaskStatus
from .task_queue import TaskNotFoundError, TaskQueue

__all__ = [
    "ALLOWED_TRANSITIONS",
    "InvalidTransitionError",
    "Task",
    "TaskNotFoundError",
    "TaskQueue",
    "TaskStatus",
]
