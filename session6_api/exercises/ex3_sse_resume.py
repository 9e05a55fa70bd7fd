"""Exercise 3: task progress as Server-Sent Events, resumed from ``Last-Event-ID``.

The queue writes every step of every task to a Redis stream (``XADD``); each
entry has an id such as ``1718000000000-3`` that only grows. An SSE stream of
one task's progress uses that id as the event's ``id:``. A browser that loses
the connection reconnects by itself and sends the last id it saw in the
``Last-Event-ID`` header; the server resumes right after it: nothing lost,
nothing repeated.

- Part 1: ``format_event(event_id, name, data)``: the SSE wire format, i.e.
  ``id: ...``, ``event: ...`` and ``data: <JSON>`` lines, then a blank line.
- Part 2: ``resume_after(header)``: the stream id to continue after: the
  header's value if it is a stream id (digits, a dash, digits), else ``"0-0"``
  (start from the beginning: a garbage header must not break the stream).
- Part 3: ``task_events(r, stream, task_id, after)``: the SSE text of the
  events of ``task_id`` strictly after stream id ``after``, in order, ending
  with the first terminal event (completed, dead_lettered or cancelled). Read
  with ``XRANGE`` in pages; ``"(" + id`` makes the start exclusive.

The session's real version is session6_api/sse.py (its live part comes from
one ``XREAD BLOCK`` reader shared by every open stream, ``EventFanout``).
"""

from __future__ import annotations

import json  # noqa: F401 (you will need it)
import re
from typing import Any

STREAM_ID = re.compile(r"\d+-\d+")
PAGE = 100


# --- Part 1 -------------------------------------------------------------------


def format_event(event_id: str, name: str, data: dict[str, Any]) -> str:
    """One SSE event: id, event and data lines, and the blank line that ends it."""
    # TODO (part 1): the text a browser's EventSource reads as one event with this id,
    # this name and this data as JSON. Rule: the data must stay on one line whatever it
    # contains, and the event must be ended so the browser delivers it.
    raise NotImplementedError("Exercise 3, part 1: the SSE wire format (hint: make hint SESSION=6 EXERCISE=3)")


# --- Part 2 -------------------------------------------------------------------


def resume_after(header: str | None) -> str:
    """The stream id to resume after: a valid ``Last-Event-ID``, else the beginning."""
    # TODO (part 2): a valid stream id (spaces around it do not count) is where to resume;
    # anything else (missing, empty, garbage) means from the start, never an error.
    raise NotImplementedError("Exercise 3, part 2: where to resume (hint: make hint SESSION=6 EXERCISE=3)")


# --- Part 3 -------------------------------------------------------------------


def task_events(r: Any, stream: str, task_id: str, after: str = "0-0") -> list[str]:
    """SSE texts of ``task_id``'s events after ``after``, up to its terminal event."""
    # TODO (part 3): this task's events strictly after `after`, in order, ending with its
    # first terminal event. Rules: other tasks' events are skipped; read in pages of PAGE
    # (the stream may hold far more); nothing seen is repeated, nothing after is missed.
    raise NotImplementedError("Exercise 3, part 3: the task's events after an id "
                              "(hint: make hint SESSION=6 EXERCISE=3)")
