"""Mistake: XRANGE starts AT the last seen id instead of after it, so every reconnect repeats
the event the browser already had.

Rejected by:
    test_ex3_sse_resume.py::TestPart3_TaskEvents::test_a_running_task_gives_what_exists_so_far
    test_ex3_sse_resume.py::TestPart3_TaskEvents::test_resume_continues_right_after_the_last_seen_id

Exercise 3: task progress as Server-Sent Events, resumed from ``Last-Event-ID``.

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

import json
import re
from typing import Any

from session6_api.vocabulary import TERMINAL_EVENTS as TERMINAL  # the events that end a task

STREAM_ID = re.compile(r"\d+-\d+")
PAGE = 100


# --- Part 1 -------------------------------------------------------------------


def format_event(event_id: str, name: str, data: dict[str, Any]) -> str:
    """One SSE event: id, event and data lines, and the blank line that ends it."""
    return f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data)}\n\n"


# --- Part 2 -------------------------------------------------------------------


def resume_after(header: str | None) -> str:
    """The stream id to resume after: a valid ``Last-Event-ID``, else the beginning."""
    if header is not None and STREAM_ID.fullmatch(header.strip()):
        return header.strip()
    return "0-0"


# --- Part 3 -------------------------------------------------------------------


def task_events(r: Any, stream: str, task_id: str, after: str = "0-0") -> list[str]:
    """SSE texts of ``task_id``'s events after ``after``, up to its terminal event."""
    out: list[str] = []
    position = after
    while True:
        entries = r.xrange(stream, min=position, count=PAGE)
        if not entries:
            return out
        for entry_id, fields in entries:
            position = entry_id
            if fields.get("task") != task_id:
                continue
            name = fields.get("event", "?")
            out.append(format_event(entry_id, name, fields))
            if name in TERMINAL:
                return out
