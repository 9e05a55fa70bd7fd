"""Mistake: pops from the left, the end LPUSH adds to, so each priority is served newest first (LIFO).

Rejected by:
    test_ex3_priorities.py::TestPart3_Claim::test_high_first_then_normal_then_low_fifo_within_each

A plausible wrong solution of exercise 3 (the tests must catch it).

Exercise 3: priorities (high, normal, low) where workers always take high first.

One pending list per priority: ``{q}:pending:high``, ``{q}:pending:normal``,
``{q}:pending:low``. The hard part is the claim. It must stay

- ordered: the oldest task of the highest non-empty priority, every time;
- atomic: two workers never get the same task;
- blocking: an idle worker waits *inside Redis* and wakes the moment any
  task arrives, high or low, instead of asking again and again (polling).

``BLMOVE`` takes one source list, so it cannot do this. ``BLMPOP`` (Redis 7)
can: it looks at several lists in the order given, pops from the first
non-empty one, and blocks on all of them at once when they are all empty.

- Part 1, ``pending_keys``: the three list names, highest priority first.
- Part 2, ``add_task``: store the task and push its id onto its priority's list.
- Part 3, ``_claim_id``: the claim (``get_task`` of ``RedisTaskQueue`` calls it).

The class builds on ``RedisTaskQueue`` and changes only how ids go in and come
out, as ``queue.PriorityQueue`` does in the standard library.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from session4_redis.workers import RedisTaskQueue

PRIORITIES = ("high", "normal", "low")


class PriorityTaskQueue(RedisTaskQueue):
    """A RedisTaskQueue with three priorities; ``get_task`` is unchanged."""

    def pending_keys(self) -> list[str]:
        """``["{q}:pending:high", "{q}:pending:normal", "{q}:pending:low"]`` for queue ``{q}``."""
        return [f"{self.keys.pending}:{priority}" for priority in PRIORITIES]

    def add_task(self, data: dict[str, Any], priority: str = "normal") -> str:
        """Queue ``data`` with ``priority`` ("high", "normal" or "low") and return its id.

        An unknown priority raises ValueError naming the valid ones, and stores
        nothing. Store the hash and push the id in one transaction, as
        ``RedisTaskQueue.add_tasks`` does; ``self._new_task_fields(data)`` checks
        the data and makes the hash (its ``"id"`` is the new task's id).
        """
        if priority not in PRIORITIES:
            raise ValueError(f"unknown priority {priority!r}; use one of {list(PRIORITIES)}")
        fields = self._new_task_fields(data)
        pipe = self.client.pipeline()
        pipe.hset(self.keys.task(fields["id"]), mapping=fields)
        pipe.lpush(self.pending_keys()[PRIORITIES.index(priority)], fields["id"])
        pipe.execute()
        return fields["id"]

    def _claim_id(self, timeout: float | None) -> str | None:
        """Take the oldest id of the highest non-empty priority and put it in processing.

        ``timeout`` seconds at most; 0 does not wait; None waits for ever. One
        Redis command must choose the task (no polling loop, no "look at high,
        then at the others"). Return the id (a str), or None on timeout.
        """
        keys = self.pending_keys()
        # Ids go in at the left (LPUSH), so the oldest is at the right: RIGHT keeps FIFO.
        if timeout == 0:
            popped = self.client.lmpop(len(keys), *keys, direction="LEFT")
        else:
            popped = self.client.blmpop(timeout or 0, len(keys), *keys, direction="LEFT")
        if popped is None:
            return None
        task_id = popped[1][0]
        task_id = task_id.decode() if isinstance(task_id, bytes) else task_id
        # The pop and this push are two steps: a worker that dies between them loses
        # track of the id (its hash remains). BLMOVE avoided that gap; a Lua script or
        # session 5's reaper can close it.
        self.client.lpush(self.keys.processing, task_id)
        return task_id

    # --- given ---------------------------------------------------------------

    def add_tasks(self, items: Iterable[dict[str, Any]]) -> list[str]:
        """Queue several tasks at normal priority."""
        return [self.add_task(data) for data in items]

    def get_stats(self) -> dict[str, int]:
        """As RedisTaskQueue's, with ``pending`` summed over the priorities (and each one)."""
        pipe = self.client.pipeline()
        for key in self.pending_keys():
            pipe.llen(key)
        for state in ("processing", "completed", "failed"):
            pipe.llen(self.keys.state(state))
        high, normal, low, processing, completed, failed = (int(n) for n in pipe.execute())
        stats = {"pending": high + normal + low, "processing": processing,
                 "completed": completed, "failed": failed}
        stats["total"] = sum(stats.values())
        return {**stats, "high": high, "normal": normal, "low": low}

    def clear(self) -> int:
        return self.client.delete(*self.pending_keys()) + super().clear()

    def __len__(self) -> int:
        return self.get_stats()["pending"]
