"""Exercise 3: priorities (high, normal, low) where workers always take high first.

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

Check your work:   pytest session4_redis/exercises/test_ex3_priorities.py
              or   python -m workshop check 4

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
        # TODO Part 1: one list name per priority, derived from this queue's own key names,
        #              highest priority first.
        raise NotImplementedError(
            "Exercise 3, part 1: return the three pending list names, highest priority "
            "first (hint: make hint SESSION=4 EXERCISE=3)")

    def add_task(self, data: dict[str, Any], priority: str = "normal") -> str:
        """Queue ``data`` with ``priority`` ("high", "normal" or "low") and return its id.

        An unknown priority raises ValueError naming the valid ones, and stores
        nothing. Store the hash and push the id in one transaction, as
        ``RedisTaskQueue.add_tasks`` does; ``self._new_task_fields(data)`` checks
        the data and makes the hash (its ``"id"`` is the new task's id).
        """
        # TODO Part 2: nothing is stored for a bad priority; otherwise the task's hash and
        #              its id on the right list appear together or not at all.
        raise NotImplementedError(
            "Exercise 3, part 2: store the task and push its id onto the list of its "
            "priority (hint: make hint SESSION=4 EXERCISE=3)")

    def _claim_id(self, timeout: float | None) -> str | None:
        """Take the oldest id of the highest non-empty priority and put it in processing.

        ``timeout`` seconds at most; 0 does not wait; None waits for ever. One
        Redis command must choose the task (no polling loop, no "look at high,
        then at the others"). Return the id (a str), or None on timeout.
        """
        # TODO Part 3: one Redis command chooses the task among all three lists, and an
        #              idle worker waits inside Redis for any of them; the claimed id is
        #              then recorded as processing.
        raise NotImplementedError(
            "Exercise 3, part 3: claim from the highest non-empty priority with one "
            "blocking command (hint: make hint SESSION=4 EXERCISE=3)")

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
