"""The task types of this session, added to session 5's (image, noop, sleep, fail, crash).

- ``webhook``: one signed HTTP delivery (webhooks.py);
- ``email``: one message through an SMTP server (mail.py);
- ``ledger``: write "<task id> <attempt> <start> <admitted>" to the file named by
  ``OPERATIONS_LEDGER`` and sleep ``seconds``. Tests and demos count runs and start
  times from it. The file comes from the worker's environment, never from the task:
  a task must not choose which file a worker appends to. ``admitted`` is when the
  rate limiter let it start ("-" without a limit): the limit is a promise about that.

``operations_handlers`` is what ``"session9_operations.handlers:operations_handlers"``
names for a worker process started with ``spawn``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from session5_recovery.workers import (
    HandlerRegistry,
    PermanentTaskError,
    TaskContext,
    default_handlers,
)

from .mail import handle_email
from .ratelimit import ADMITTED_AT
from .webhooks import DELIVERY_TYPE, handle_webhook

LEDGER_ENV = "OPERATIONS_LEDGER"
HANDLERS = "session9_operations.handlers:operations_handlers"


def handle_ledger(data: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """Record this start (one line, one ``write`` in append mode: whole under concurrency)."""
    path = os.environ.get(LEDGER_ENV)
    if not path:
        raise PermanentTaskError(f"{LEDGER_ENV} is not set in the worker's environment: the "
                                 f"ledger task has nowhere to write")
    started, admitted = time.time(), ADMITTED_AT.get()
    with open(path, "a", encoding="utf-8") as ledger:
        ledger.write(f"{context.task_id} {context.attempt} {started:.6f} "
                     f"{'-' if admitted is None else f'{admitted:.6f}'}\n")
    seconds = data.get("seconds", 0)
    if seconds:
        time.sleep(float(seconds))
    return {"started": started}


def operations_handlers() -> HandlerRegistry:
    registry = default_handlers()
    registry.register(DELIVERY_TYPE, time_limit=60)(handle_webhook)
    registry.register("email", time_limit=60)(handle_email)
    registry.register("ledger")(handle_ledger)
    return registry


@dataclass(frozen=True)
class LedgerRow:
    task_id: str
    attempt: int
    started: float  # the handler's clock
    admitted: float | None  # the limiter's admission (None: no limit)


def read_ledger(path: str | os.PathLike[str]) -> list[LedgerRow]:
    """The ledger's lines, in the order they were written."""
    rows = []
    with open(path, encoding="utf-8") as ledger:
        for line in ledger:
            task_id, attempt, started, admitted = line.split()
            rows.append(LedgerRow(task_id, int(attempt), float(started),
                                  None if admitted == "-" else float(admitted)))
    return rows
