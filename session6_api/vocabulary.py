"""The words for a task's state, its priority and the events that move it, from session 5.

Session 5's ``TaskStatus`` and its priorities are the one definition; the
database's status column, the API's schemas, the event follower and the
dashboard all take their words from here, so a state added in session 5 cannot
be missing from one of them.
"""

from __future__ import annotations

from session5_recovery.workers import TaskStatus
from session5_recovery.workers.keys import PRIORITIES

STATUSES: tuple[str, ...] = tuple(status.value for status in TaskStatus)
# Finished: no worker will touch the task again (a person may still replay a dead-lettered one).
TERMINAL: tuple[str, ...] = (TaskStatus.COMPLETED.value, TaskStatus.DEAD_LETTERED.value,
                             TaskStatus.CANCELLED.value)
# Each terminal status is entered by the event of the same name.
TERMINAL_EVENTS = TERMINAL

# Which events move a task to which status (the rest, such as "failed" or "progress",
# only add details).
STATUS_OF_EVENT: dict[str, str] = {
    "enqueued": TaskStatus.PENDING.value,
    "claimed": TaskStatus.PROCESSING.value,
    "retry_scheduled": TaskStatus.DELAYED.value,
    "requeued": TaskStatus.PENDING.value,
    "replayed": TaskStatus.PENDING.value,
    **{name: name for name in TERMINAL_EVENTS},
}

__all__ = ["PRIORITIES", "STATUSES", "STATUS_OF_EVENT", "TERMINAL", "TERMINAL_EVENTS"]
