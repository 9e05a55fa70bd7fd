"""Exercise 2: the chord counter, which enqueues the callback exactly once.

A chord runs its children side by side, then one callback with all their
results. A counter in Redis, ``{wf}:remaining``, starts at the number of
children; each child that finishes counts itself off; the child that brings it
to zero enqueues the callback. Three ways this goes wrong in real systems:

- a child runs twice (its worker died after finishing; the reaper ran it again)
  and counts itself off twice: the callback runs before every child is done;
- two children finish at the same moment, each reads "2 left", and neither
  thinks it is the last: the callback is never enqueued, the chord hangs;
- the last child counts itself off, then dies before enqueuing the callback:
  the counter says "done", and nobody will ever enqueue it.

- Part 1: ``record_result(r, wf, child, result)``: store a child's result only the
  first time (a rerun's result is ignored); True if this call stored it.
- Part 2: ``complete_child(r, wf, child, result, callback)``: record the result,
  count the child off, and, if it was the last, enqueue ``callback`` (with
  ``enqueue_in``), all in ONE transaction. Returns "already" (recorded before:
  nothing changes), "waiting" (others are still running) or "last".
- Part 3: ``fail_child(r, wf, child, reason, policy, callback)``: a child that can
  never finish (dead-lettered). Policy "continue": it counts as finished, with
  ``{"failed": True, "error": reason}`` as its result. Policy "fail": the chord
  fails (``{wf}:state`` = "failed", ``{wf}:reason`` = reason), and the callback is
  never enqueued, not even when the other children finish later.

The engine (``session8_workflows/engine.py``, ``workflows.lua``) does this in a
Lua script; here it is an optimistic transaction (WATCH, MULTI, EXEC).
"""

from __future__ import annotations

import json
from typing import Any

import redis  # noqa: F401  (redis.WatchError: a watched key changed)

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
    # TODO (part 1): the first result of a child wins; a later one (a rerun) changes
    # nothing. One command can write a hash field only if it is absent and say whether
    # it did.
    raise NotImplementedError("Exercise 2, part 1: record a child's result once "
                              "(hint: make hint SESSION=8 EXERCISE=2)")


# --- Part 2 -------------------------------------------------------------------


def complete_child(r: Any, wf: str, child: str, result: Any, callback: dict[str, Any]) -> str:
    """Record, count off and (if last) enqueue the callback, in one transaction."""
    # TODO (part 2): decide from what you read (recorded already? how many remain? is the
    # chord still running?) and write (the result, the count, the callback if last) in
    # ONE transaction that Redis refuses if any of what you read changed meanwhile:
    # then read again and decide again. The callback's enqueue belongs inside it: a
    # worker that dies after the transaction must leave the callback enqueued.
    raise NotImplementedError("Exercise 2, part 2: count a child off and enqueue the "
                              "callback if it was the last (hint: make hint SESSION=8 EXERCISE=2)")


# --- Part 3 -------------------------------------------------------------------


def fail_child(r: Any, wf: str, child: str, reason: str, policy: str,
               callback: dict[str, Any]) -> str:
    """Apply the chord's failure policy to a child that cannot finish.

    Returns what ``complete_child`` returns for "continue"; for "fail": "failed"
    (or "already" if the child had a result).
    """
    # TODO (part 3): "continue": the failure is the child's result, and it counts off
    # like a success (part 2). "fail": record the failure as the child's result (once),
    # count it off, and mark the chord failed with the reason, in one transaction; part 2
    # must then never enqueue the callback.
    raise NotImplementedError("Exercise 2, part 3: apply the failure policy "
                              "(hint: make hint SESSION=8 EXERCISE=2)")
