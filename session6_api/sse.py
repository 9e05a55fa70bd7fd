"""Server-Sent Events from the queue's event stream, written by hand (a few lines).

The wire format is text: for each event an ``id:`` line (the Redis stream entry
id), an ``event:`` line (its name), a ``data:`` line (JSON) and a blank line.
A line that starts with ``:`` is a comment: we send one every few seconds so
that proxies and browsers do not close an idle connection ("keep-alive").

A browser that loses the connection reconnects by itself and sends the last
``id`` it saw in the ``Last-Event-ID`` header. Because our ids are stream ids,
"resume after it" is one ``XREAD``/``XRANGE`` from that id: nothing lost,
nothing repeated. (Redis pub/sub could not do this: a message published while
nobody listens is gone.)

Why not sse-starlette? It is good, but what it does for us here is these few
lines; writing them shows the format, which is the lesson.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

from session5_recovery.workers import Event

from .sync import TERMINAL_EVENTS, event_from_entry

STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")
KEEP_ALIVE_SECONDS = 10.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def format_event(event: Event) -> str:
    """One event in the SSE wire format."""
    data = {"event": event.name, "ts": event.ts, **event.fields}
    return f"id: {event.id}\nevent: {event.name}\ndata: {json.dumps(data)}\n\n"


def valid_last_event_id(value: str | None) -> str | None:
    """The header's value if it is a stream id; None (start from the beginning) otherwise."""
    if value and STREAM_ID.fullmatch(value.strip()):
        return value.strip()
    return None


async def task_events(client: aioredis.Redis, stream_key: str, task_id: str, *,
                      after: str | None, finished: bool,
                      keep_alive: float = KEEP_ALIVE_SECONDS) -> AsyncIterator[str]:
    """The events of one task after ``after``, ending at its terminal event.

    ``finished``: the task had already ended when the client connected; then
    the history that is still in the stream is sent and the stream closes, even
    if the terminal event itself was trimmed away.
    """
    position = after or "0-0"
    # The history: everything already in the stream after the position.
    while True:
        entries = await client.xrange(stream_key, min=f"({position}", count=500)
        if not entries:
            break
        for entry_id, raw in entries:
            event = event_from_entry(entry_id, raw)
            position = event.id
            if event.task_id == task_id:
                yield format_event(event)
                if event.name in TERMINAL_EVENTS:
                    return
    if finished:
        return
    # Then live: block for new entries, with a comment now and then to keep the line open.
    block_ms = int(keep_alive * 1000)
    while True:
        replies = await client.xread({stream_key: position}, count=500, block=block_ms)
        if not replies:
            yield ": keep-alive\n\n"
            continue
        for entry_id, raw in replies[0][1]:
            event = event_from_entry(entry_id, raw)
            position = event.id
            if event.task_id == task_id:
                yield format_event(event)
                if event.name in TERMINAL_EVENTS:
                    return


async def queue_events(client: aioredis.Redis, stream_key: str, *, after: str | None,
                       keep_alive: float = KEEP_ALIVE_SECONDS) -> AsyncIterator[str]:
    """Every event of the queue after ``after`` (None: only new ones), forever."""
    position = after or "$"
    if position == "$":
        # Resolve "$" once: later reads must continue from a real id, or events
        # that arrive between two XREADs would be skipped.
        last = await client.xrevrange(stream_key, count=1)
        position = (last[0][0].decode() if isinstance(last[0][0], bytes) else last[0][0]) \
            if last else "0-0"
    block_ms = int(keep_alive * 1000)
    yield ": connected\n\n"
    while True:
        replies = await client.xread({stream_key: position}, count=500, block=block_ms)
        if not replies:
            yield ": keep-alive\n\n"
            continue
        for entry_id, raw in replies[0][1]:
            event = event_from_entry(entry_id, raw)
            position = event.id
            yield format_event(event)
