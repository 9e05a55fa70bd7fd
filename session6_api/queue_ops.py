"""The queue calls whose answers the API has to interpret, each with its reason.

Session 5's queue answers in its own terms: a duplicate id raises, and pause
and resume say whether the state changed. The relay and the routers need other
answers (was it queued now? is the queue paused now?), so these few functions
translate, and say why a "no" is not an error. Calls whose answer needs no
translation (statistics, replay, the event history) go to the queue directly.
"""

from __future__ import annotations

from typing import Any

from session5_recovery.workers import DuplicateTaskError, RedisTaskQueue


def enqueue(queue: RedisTaskQueue, data: dict[str, Any], *, task_id: str,
            priority: str = "normal") -> bool:
    """Queue ``data`` under ``task_id``; True if queued now, False if Redis already had it.

    False is not an error: it is what a relay that crashed after pushing and
    before marking its outbox row sees when it pushes again. The queue's script
    checks the id and writes nothing for a duplicate.
    """
    try:
        queue.add_task(data, task_id=task_id, priority=priority)
    except DuplicateTaskError:
        return False
    return True


def cancel(queue: RedisTaskQueue, task_id: str) -> bool:
    """True: the task was pending and is now cancelled; False: not pending (claimed, finished).

    The queue decides atomically: a worker cannot claim the task between our
    check and the cancel, because there is no separate check.
    """
    return bool(queue.cancel(task_id))


def pause(queue: RedisTaskQueue, paused: bool) -> bool:
    """Pause (True) or resume (False) claims; returns the new state."""
    (queue.pause if paused else queue.resume)()
    return bool(queue.is_paused())


def is_paused(queue: RedisTaskQueue) -> bool:
    return bool(queue.is_paused())
