"""Exercise 2: the outbox relay (no task lost or doubled when the relay dies between steps).

``POST /tasks`` writes the task row and an outbox row in one transaction and
answers. The relay is the only thing that talks to Redis: for each outbox row
that is not marked sent, oldest first, it pushes the task and then marks the
row sent. It can die at any moment; whatever moment it is, a new relay must
finish the job with every task in Redis exactly once.

Given: ``store`` (session6_api.store.TaskStore: ``unsent(limit)`` gives the
unsent rows oldest first, each with ``id``, ``task_id`` and ``payload`` =
``{"data": ..., "priority": ...}``; ``mark_sent(row.id)``), and
``enqueue(queue, data, task_id=..., priority=...)`` from session6_api.queue_ops,
which returns True if Redis took the task now and False if Redis already
held that id (it refuses a duplicate: nothing is written).

- Part 1: ``push(queue, row)``: push the row's task under the row's own task id.
- Part 2: ``relay_once(store, queue, between=None)``: one pass; for each row,
  push, then call ``between(row)`` (the tests make it raise, to kill the relay
  exactly there), then mark the row sent. Count pushed and duplicate rows.
  Think about the order: which one may a crash repeat, and which may it lose?
- Part 3: ``relay_forever(store, queue, stop, interval)``: passes until ``stop``
  is set; a pass that fails (Redis down) must not end the relay: log it, wait
  ``interval``, try again (the rows are still unsent, nothing is lost).

The session's real relay is session6_api/relay.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from session6_api.queue_ops import enqueue  # noqa: F401 (you will need it)
from session6_api.store import OutboxRow

log = logging.getLogger(__name__)


@dataclass
class RelayReport:
    pushed: int = 0  # rows whose task Redis took now
    duplicates: int = 0  # rows whose task Redis already had (pushed before a crash)


# --- Part 1 -------------------------------------------------------------------


def push(queue: Any, row: OutboxRow) -> bool:
    """Push the row's task under the row's task id; True if new, False if Redis had it."""
    # TODO (part 1): pushing the same row twice must put the task in Redis once: the
    # row's own task id is what lets Redis recognise the repeat. The priority travels
    # too ("normal" when the payload has none).
    raise NotImplementedError("Exercise 2, part 1: push under the row's own id "
                              "(hint: make hint SESSION=6 EXERCISE=2)")


# --- Part 2 -------------------------------------------------------------------


def relay_once(store: Any, queue: Any,
               between: Callable[[OutboxRow], None] | None = None) -> RelayReport:
    """One pass over the unsent rows: push, (between), mark sent."""
    # TODO (part 2): every unsent row, oldest first, ends in Redis and marked sent. Rule:
    # a relay killed at any point (between(row) is where the tests kill it) may make the
    # next relay repeat a push, never skip one; a repeat counts as a duplicate, not an error.
    raise NotImplementedError("Exercise 2, part 2: one pass of the relay (hint: make hint SESSION=6 EXERCISE=2)")


# --- Part 3 -------------------------------------------------------------------


def relay_forever(store: Any, queue: Any, stop: threading.Event, interval: float = 0.05) -> None:
    """Pass after pass until ``stop`` is set; a failed pass is logged and retried."""
    # TODO (part 3): passes until `stop` is set. Rules: a failed pass (Redis down) is
    # logged and tried again, it never ends the relay; an idle relay waits `interval`
    # between passes instead of spinning, and a stop ends that wait at once.
    raise NotImplementedError("Exercise 2, part 3: a relay that outlives a failed pass "
                              "(hint: make hint SESSION=6 EXERCISE=2)")
