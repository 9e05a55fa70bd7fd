"""Exercise 2: the reaper, which gives a dead worker's tasks to the living.

Each worker claims tasks into its own list, ``{queue}:processing:{worker_id}``,
and keeps a heartbeat key ``{queue}:worker:{worker_id}`` alive (exercise 1). When
a worker dies, its heartbeat key expires, but its list still holds the tasks it
was working on: without a reaper they would stay there forever.

Every task hash ``{queue}:task:{id}`` has ``attempts`` (counted when a worker
claims the task, see ``claim`` below) and ``max_attempts``.

- Part 1: ``find_dead_workers(r, queue)``: the workers in the registry
  ``{queue}:workers`` whose heartbeat key no longer exists.
- Part 2: ``recover_task(r, queue, worker_id, task_id)``: take one task out of a
  dead worker's list. If it has attempts left, put it back in ``{queue}:pending``
  at the head of the line (the end ``claim`` takes from), status ``pending``, and
  return ``"requeued"``. If it has used all its attempts, push it onto the
  dead-letter list ``{queue}:dlq``, status ``failed``, with a ``reason``, and return
  ``"dead_lettered"``. The attempt that was lost stays counted.
- Part 3: ``reap(r, queue)``: recover every task of every dead worker, remove the
  dead workers from the registry, and report what happened. A live worker's tasks
  are never touched: it is still working on them.

The real reaper (``session5_recovery/workers/queue.lua``) does all of this in one
Lua script, so nobody sees it half done. Here it is plain Python, to read it
step by step.
"""

from __future__ import annotations

from typing import Any


def task_key(queue: str, task_id: str) -> str:
    return f"{queue}:task:{task_id}"


def processing_key(queue: str, worker_id: str) -> str:
    return f"{queue}:processing:{worker_id}"


def heartbeat_key(queue: str, worker_id: str) -> str:
    return f"{queue}:worker:{worker_id}"


def claim(r: Any, queue: str, worker_id: str) -> str | None:
    """Claim the next pending task for ``worker_id`` (given: the worker's side).

    The id moves atomically from the right end of pending into the worker's own
    list, and the attempt is counted now: a worker that dies mid-task has still
    used it up.
    """
    task_id = r.lmove(f"{queue}:pending", processing_key(queue, worker_id), "RIGHT", "LEFT")
    if task_id is not None:
        r.hincrby(task_key(queue, task_id), "attempts", 1)
        r.hset(task_key(queue, task_id), mapping={"status": "processing", "worker_id": worker_id})
        r.zadd(f"{queue}:workers", {worker_id: 0})
    return task_id


# --- Part 1 -------------------------------------------------------------------


def find_dead_workers(r: Any, queue: str) -> list[str]:
    """Registered workers whose heartbeat key has expired (or was never written)."""
    # TODO (part 1): a registered worker is dead when Redis has let its heartbeat expire;
    # a live worker must never be on this list.
    raise NotImplementedError("Exercise 2, part 1: find the registered workers without a "
                              "heartbeat (hint: make hint SESSION=5 EXERCISE=2)")


# --- Part 2 -------------------------------------------------------------------


def recover_task(r: Any, queue: str, worker_id: str, task_id: str) -> str:
    """Move one task out of dead ``worker_id``'s list: requeue it, or dead-letter it."""
    # TODO (part 2): the task leaves the dead worker's list and lands in exactly one
    # place: pending, claimed next ("requeued"), or the dead-letter list with a reason
    # once it has used up its attempts ("dead_lettered"). Rules: claim() already counted
    # this attempt (never give it back); the moves happen together or not at all.
    raise NotImplementedError("Exercise 2, part 2: requeue the task or dead-letter it "
                              "(hint: make hint SESSION=5 EXERCISE=2)")


# --- Part 3 -------------------------------------------------------------------


def reap(r: Any, queue: str) -> dict[str, list[str]]:
    """Recover every task of every dead worker; forget the dead workers.

    Returns ``{"workers": [...], "requeued": [...], "dead_lettered": [...]}``.
    """
    # TODO (part 3): every task of every dead worker recovered and reported, then the
    # dead worker forgotten; a live worker and its tasks are never touched.
    raise NotImplementedError("Exercise 2, part 3: reap every dead worker "
                              "(hint: make hint SESSION=5 EXERCISE=2)")
