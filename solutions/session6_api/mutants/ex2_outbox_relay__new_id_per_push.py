"""Mistake: each push makes a fresh id, so Redis cannot recognise a repeat: a relay that dies
after pushing and is restarted pushes the same task a second time.

Rejected by:
    test_ex2_outbox_relay.py::TestPart1_Push::test_push_uses_the_rows_task_id
    test_ex2_outbox_relay.py::TestPart1_Push::test_pushing_the_same_row_twice_is_refused
    test_ex2_outbox_relay.py::TestPart2_RelayOnce::test_a_relay_killed_between_steps_loses_and_doubles_nothing
    test_ex2_outbox_relay.py::TestPart2_RelayOnce::test_oldest_rows_go_first
    test_ex2_outbox_relay.py::TestPart2_RelayOnce::test_one_pass_pushes_every_row_once_and_marks_it

Exercise 2: the outbox relay (no task lost or doubled when the relay dies between steps).

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
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from session6_api.queue_ops import enqueue
from session6_api.store import OutboxRow

log = logging.getLogger(__name__)


@dataclass
class RelayReport:
    pushed: int = 0  # rows whose task Redis took now
    duplicates: int = 0  # rows whose task Redis already had (pushed before a crash)


# --- Part 1 -------------------------------------------------------------------


def push(queue: Any, row: OutboxRow) -> bool:
    """Push the row's task under the row's task id; True if new, False if Redis had it."""
    return enqueue(queue, row.payload["data"], task_id=uuid.uuid4().hex,
                   priority=row.payload.get("priority", "normal"))


# --- Part 2 -------------------------------------------------------------------


def relay_once(store: Any, queue: Any,
               between: Callable[[OutboxRow], None] | None = None) -> RelayReport:
    """One pass over the unsent rows: push, (between), mark sent."""
    report = RelayReport()
    for row in store.unsent(100):
        if push(queue, row):
            report.pushed += 1
        else:
            report.duplicates += 1
        if between is not None:
            between(row)
        store.mark_sent(row.id)
    return report


# --- Part 3 -------------------------------------------------------------------


def relay_forever(store: Any, queue: Any, stop: threading.Event, interval: float = 0.05) -> None:
    """Pass after pass until ``stop`` is set; a failed pass is logged and retried."""
    while not stop.is_set():
        try:
            busy = relay_once(store, queue).pushed
        except Exception:
            log.exception("relay pass failed; the rows stay unsent and are retried")
            busy = 0
        if not busy:
            stop.wait(interval)
