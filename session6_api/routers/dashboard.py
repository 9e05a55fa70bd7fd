"""The live dashboard: the page at ``/``, a task's page, and the stream that feeds them.

- ``GET /``: the dashboard (static/index.html, dashboard.js, dashboard.css).
- ``GET /ui/tasks/{id}``: one task's page (static/task.html, task.js).
- ``GET /dashboard/state``: what the page draws, as JSON (counts, workers, DLQ,
  throughput); the same object the stream pushes.
- ``GET /dashboard/stream``: Server-Sent Events: ``state`` messages (right
  away, then after new events and at least once a second, because a
  heartbeat's age changes although nothing is written to the stream) and one
  ``queue`` message per event of the queue, with its sentence.
  A new connection starts with the latest events (the feed is not empty on
  load); ``?task=ID``: only that task's whole history, then its live events.
- ``GET /dashboard/tasks/{id}/input``: the image the task was given.

The page changes the queue only through the API's own routes (``POST /tasks``,
``DELETE /tasks/{id}``, ``/queue/pause``, ``/dlq/...``), with the same token
check as any other client. The browser pushes nothing and polls nothing: it
opens one stream and redraws when a message arrives.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from ..backends import Backends
from ..dashboard import FEED_LENGTH, EventLedger, TaskHistory, dashboard_state, event_view
from ..sse import SSE_HEADERS, history, live
from ..static import INDEX_HTML, TASK_HTML
from .common import AppState, backends, error
from .events import BAD_STREAM_ID, stream_position

router = APIRouter(tags=["dashboard"])
STATE_EVERY = 1.0  # seconds between two state messages when the queue is quiet
STATE_AFTER_EVENTS = 0.25  # ... and at most this often while events are flowing
_ledger_lock = threading.Lock()


def ledger_for(request: Request) -> EventLedger:
    """The app's one EventLedger (made on first use), shared by every open page."""
    with _ledger_lock:
        ledger = getattr(request.app.state, "dashboard_ledger", None)
        if ledger is None:
            ledger = EventLedger(backends(request).queue)
            request.app.state.dashboard_ledger = ledger
        return ledger


def page_state(state: Backends, ledger: EventLedger) -> dict[str, Any]:
    return {**dashboard_state(state.queue, ledger),
            "token_required": state.config.api_token is not None,
            "data_lost": state.recovery.notice,  # Redis lost its data; what was re-sent
            "samples": state.images.samples()}


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(INDEX_HTML, media_type="text/html")


@router.get("/ui/tasks/{task_id}", include_in_schema=False)
def task_page(task_id: str) -> FileResponse:
    """The same page for every id: it asks ``GET /tasks/{id}`` and says so if there is none."""
    return FileResponse(TASK_HTML, media_type="text/html")


@router.get("/dashboard/state")
def state(request: Request, state: AppState) -> JSONResponse:
    """Counts per state, pending by priority, workers, the newest DLQ entries, throughput."""
    return JSONResponse(page_state(state, ledger_for(request)))


@router.get("/dashboard/tasks/{task_id}/input", response_class=FileResponse,
            responses={200: {"content": {"image/*": {}}, "description": "the input image"},
                       404: error("no task with this id, or its image is gone")})
def task_input(task_id: str, state: AppState) -> FileResponse:
    """The image the task was asked to process (an upload or a sample)."""
    row = state.store.get(task_id)
    if row is None:
        raise HTTPException(404, f"no task with id {task_id!r}")
    try:
        path = state.images.resolve(row.image)
    except ValueError as problem:
        raise HTTPException(404, f"the input image of task {task_id} is gone: {problem}") from None
    return FileResponse(path)


def message(kind: str, data: dict[str, Any], event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data)}\n\n"


def shared_page_state(request: Request) -> dict[str, Any]:
    """``page_state``, computed at most every STATE_AFTER_EVENTS seconds for all open pages:
    a hundred dashboards cost the queue one set of reads, not a hundred."""
    cached = getattr(request.app.state, "dashboard_state_cache", None)
    now = time.monotonic()
    if cached is not None and now - cached[0] < STATE_AFTER_EVENTS:
        return cached[1]
    value = page_state(backends(request), ledger_for(request))
    request.app.state.dashboard_state_cache = (now, value)
    return value


async def dashboard_stream(request: Request, state: Backends, task_id: str | None,
                           position: str) -> AsyncIterator[str]:
    """The page's feed: the history after ``position``, then live events from the shared
    reader, with state messages in between."""
    only = TaskHistory(task_id) if task_id else None
    fanout = state.fanout
    # Before the history: no event falls between. Queue-wide even for one task's page: it
    # also shows the worker_lost of the worker that held the task, which names no task.
    subscription = await fanout.subscribe()
    try:
        yield "retry: 1000\n\n"  # reconnect after one second (the browser sends Last-Event-ID)
        async for event in history(state.aredis, state.queue.keys.events, position):
            position = event.id
            if only is None or only.accepts(event):
                yield message("queue", event_view(event), event.id)
        last_state, owed = 0.0, True  # owed: events arrived since the last state message
        last_sent = time.monotonic()
        events = live(subscription, after=position, keep_alive=STATE_EVERY)
        while not getattr(request.app.state, "shutting_down", False):  # set by Ctrl-C (cli.py)
            since = time.monotonic() - last_state
            if only is None and (since >= STATE_EVERY or (owed and since >= STATE_AFTER_EVENTS)):
                yield message("state", await run_in_threadpool(shared_page_state, request))
                last_state, owed, since = time.monotonic(), False, 0.0
                last_sent = last_state
            try:
                # live() yields None after STATE_EVERY seconds of silence, so a quiet
                # queue still wakes the loop for the next state message or a shutdown.
                event = await events.__anext__()
            except StopAsyncIteration:  # too slow a reader: the browser reconnects
                return
            if event is None:
                if only is not None and time.monotonic() - last_sent >= state.config.keep_alive:
                    yield ": keep-alive\n\n"
                    last_sent = time.monotonic()
                continue
            if only is None or only.accepts(event):
                yield message("queue", event_view(event), event.id)
                owed = True
                last_sent = time.monotonic()
    finally:
        fanout.unsubscribe(subscription)


@router.get("/dashboard/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "state and queue messages"},
                       **BAD_STREAM_ID})
async def stream(
    request: Request, state: AppState,
    task: Annotated[str | None, Query(max_length=64, description="only this task's events")]
    = None,
    last_event_id: Annotated[str | None, Header(max_length=50)] = None,
) -> StreamingResponse:
    """The dashboard's live feed (see the module docstring)."""
    position = stream_position(last_event_id)
    if position is None:
        if task is not None:
            position = "0-0"  # a task's page starts with the task's whole history
        else:
            # A fresh page starts with the latest FEED_LENGTH events, then goes live.
            latest = await state.aredis.xrevrange(state.queue.keys.events, count=FEED_LENGTH + 1)
            position = latest[-1][0] if len(latest) > FEED_LENGTH else "0-0"
    await state.fanout.start()  # Redis down: 503 now, not a broken stream
    return StreamingResponse(dashboard_stream(request, state, task, position),
                             media_type="text/event-stream", headers=SSE_HEADERS)
