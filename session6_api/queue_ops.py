"""What the API asks of session 5's queue, in one place.

The API needs five things from the queue: enqueue under an id chosen by the
database (refused when Redis already holds that id), priorities, cancel, pause
and resume. Session 5's second version has them as methods of
``RedisTaskQueue`` (``add_task(task_id=..., priority=...)``, ``cancel``,
``pause``, ``resume``, ``is_paused``); every call goes through this module, so
the routers and the relay read the same whatever version of the queue is
carried forward.

For a queue without those methods, enqueue-under-an-id falls back on the
script's own ``enqueue`` command (which has always refused an id it already
holds), and the others raise ``QueueFeatureMissing``: the API answers ``501``
saying what is missing, instead of pretending.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from .workers import RedisTaskQueue, TaskStatus

PRIORITIES = ("high", "normal", "low")

try:  # session 5, second version
    from .workers import DuplicateTaskError
except ImportError:  # an older copy: the same idea, declared here
    class DuplicateTaskError(ValueError):  # type: ignore[no-redef]
        """The queue already holds a task with this id; nothing was written."""


class QueueFeatureMissing(NotImplementedError):
    """The carried-forward queue lacks a method the API needs (see the module docstring)."""


def _has_parameter(function: Any, name: str) -> bool:
    return name in inspect.signature(function).parameters


def supports(feature: str) -> bool:
    """Whether the carried-forward queue has ``feature``: task_id, priority, cancel, pause."""
    if feature in ("task_id", "priority"):
        return _has_parameter(RedisTaskQueue.add_task, feature)
    if feature == "pause":
        return all(hasattr(RedisTaskQueue, m) for m in ("pause", "resume", "is_paused"))
    return hasattr(RedisTaskQueue, feature)


def enqueue(queue: RedisTaskQueue, data: dict[str, Any], *, task_id: str,
            priority: str = "normal") -> bool:
    """Queue ``data`` under ``task_id``; True if queued now, False if Redis already had it.

    False is not an error: it is what a relay that crashed after pushing and
    before marking its outbox row sees when it pushes again.
    """
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}; got {priority!r}")
    if supports("task_id"):
        kwargs: dict[str, Any] = {"task_id": task_id}
        if supports("priority"):
            kwargs["priority"] = priority
        try:
            queue.add_task(data, **kwargs)
        except DuplicateTaskError:
            return False
        return True
    # Older queue: its script's enqueue already refuses an id it holds (reply 0).
    kind = data.get("type", "image")
    limit = queue.settings.max_attempts
    return bool(queue._call("enqueue", task_id, kind, json.dumps(data), limit))


def cancel(queue: RedisTaskQueue, task_id: str) -> bool:
    """True: the task was pending and is now cancelled; False: not pending (claimed, finished)."""
    if not supports("cancel"):
        raise QueueFeatureMissing("cancelling needs RedisTaskQueue.cancel (session 5, second "
                                  "version); this copy of the queue does not have it")
    return bool(queue.cancel(task_id))


def pause(queue: RedisTaskQueue, paused: bool) -> bool:
    """Pause (True) or resume (False) claims; returns the new state."""
    if not supports("pause"):
        raise QueueFeatureMissing("pause and resume need RedisTaskQueue.pause/resume (session 5, "
                                  "second version); this copy of the queue does not have them")
    (queue.pause if paused else queue.resume)()
    return bool(queue.is_paused())


def is_paused(queue: RedisTaskQueue) -> bool:
    return bool(queue.is_paused()) if supports("pause") else False


# The status of a dead-lettered task: "dead_lettered" in the second version, "failed" before.
DEAD_LETTERED = getattr(TaskStatus, "DEAD_LETTERED", TaskStatus.FAILED)
