"""Mistake: the counter is read, then written in a MULTI, without WATCH.

Two children finishing at once both read "2 left"; neither is the last; the
callback is never enqueued.

Rejected by:
    test_ex2_chord_counter.py::TestPart2_complete_child::test_two_children_finishing_at_once_still_enqueue_the_callback
"""

from __future__ import annotations

import json
from typing import Any

import redis

PENDING = "ex2:pending"


def results_key(wf: str) -> str:
    return f"{wf}:results"


def remaining_key(wf: str) -> str:
    return f"{wf}:remaining"


def state_key(wf: str) -> str:
    return f"{wf}:state"


def callback_id(wf: str) -> str:
    """The callback's id: fixed per chord, so enqueuing it twice is refused."""
    return f"{wf}:callback"


def start_chord(r: Any, wf: str, children: list[str]) -> None:
    """Given: a chord waiting for ``children``."""
    r.set(remaining_key(wf), len(children))
    r.set(state_key(wf), "running")


def enqueue_in(pipe: Any, task_id: str, data: dict[str, Any]) -> None:
    """Given: queue the commands that enqueue ``data`` under ``task_id`` on ``pipe``.

    The record is written only if absent (``SET NX``), as session 5 refuses a
    duplicate id; use it inside your MULTI.
    """
    pipe.set(f"ex2:task:{task_id}", json.dumps(data), nx=True)
    pipe.rpush(PENDING, task_id)


# --- Part 1 -------------------------------------------------------------------


def record_result(r: Any, wf: str, child: str, result: Any) -> bool:
    """Store ``child``'s result if it has none yet; True if stored now."""
    return bool(r.hsetnx(results_key(wf), child, json.dumps(result)))


# --- Part 2 -------------------------------------------------------------------


def complete_child(r: Any, wf: str, child: str, result: Any, callback: dict[str, Any]) -> str:
    """Record, count off and (if last) enqueue the callback, in one transaction."""
    with r.pipeline() as pipe:
        while True:
            try:
                if r.hexists(results_key(wf), child):
                    return "already"
                remaining = int(r.get(remaining_key(wf)))
                running = r.get(state_key(wf)) == "running"
                last = remaining == 1 and running
                pipe.multi()
                pipe.hset(results_key(wf), child, json.dumps(result))
                pipe.decr(remaining_key(wf))
                if last:
                    enqueue_in(pipe, callback_id(wf), callback)
                pipe.execute()
                return "last" if last else "waiting"
            except redis.WatchError:
                continue  # someone changed what we read: read again


# --- Part 3 -------------------------------------------------------------------


def fail_child(r: Any, wf: str, child: str, reason: str, policy: str,
               callback: dict[str, Any]) -> str:
    """Apply the chord's failure policy to a child that cannot finish.

    Returns what ``complete_child`` returns for "continue"; for "fail": "failed"
    (or "already" if the child had a result).
    """
    if policy == "continue":
        return complete_child(r, wf, child, {"failed": True, "error": reason}, callback)
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch(results_key(wf))
                if pipe.hexists(results_key(wf), child):
                    return "already"
                pipe.multi()
                pipe.hset(results_key(wf), child, json.dumps({"failed": True, "error": reason}))
                pipe.decr(remaining_key(wf))
                pipe.set(state_key(wf), "failed")
                pipe.set(f"{wf}:reason", reason)
                pipe.execute()
                return "failed"
            except redis.WatchError:
                continue
