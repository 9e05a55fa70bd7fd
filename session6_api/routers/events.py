"""Server-Sent Events: one task's progress, and the whole queue's (the dashboard's feed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from ..sse import SSE_HEADERS, InvalidStreamId, parse_stream_id, queue_events, task_events
from ..vocabulary import TERMINAL
from .common import AppState, error

router = APIRouter(tags=["events"])
EVENT_STREAM = {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                "description": "an SSE stream; each id is the Redis stream entry id"}
BAD_STREAM_ID = {400: error("Last-Event-ID or ?after= is not a stream id; says the valid form")}


def stream_position(last_event_id: str | None, after: str | None = None) -> str | None:
    """Where a stream resumes: the header first, then ``?after=``; 400 if one is malformed."""
    try:
        return (parse_stream_id(last_event_id, "the Last-Event-ID header")
                or parse_stream_id(after, "the 'after' query parameter"))
    except InvalidStreamId as problem:
        raise HTTPException(400, str(problem)) from None


@router.get("/tasks/{task_id}/events", response_class=StreamingResponse,
            responses={200: EVENT_STREAM, 404: error("no task with this id"), **BAD_STREAM_ID})
async def task_progress(
    task_id: str, state: AppState,
    last_event_id: Annotated[str | None, Header(max_length=50)] = None,
) -> StreamingResponse:
    """The task's events from the queue's stream; ends at completed, dead_lettered or cancelled.

    Send ``Last-Event-ID`` (browsers do it by themselves on reconnect) to resume
    after that event: nothing lost, nothing repeated.
    """
    after = stream_position(last_event_id)
    row = await run_in_threadpool(state.store.get, task_id)
    if row is None:
        raise HTTPException(404, f"no task with id {task_id!r}; use the id that POST /tasks "
                                 f"returned")
    live = await run_in_threadpool(state.queue.get_task_info, task_id)
    finished = row.finished or (live is not None and str(live.status) in TERMINAL)
    if not finished:
        await state.fanout.start()  # Redis down: 503 now, not a broken stream
    stream = task_events(state.aredis, state.fanout, state.queue.keys.events, task_id,
                         after=after, finished=finished, keep_alive=state.config.keep_alive)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/events", response_class=StreamingResponse,
            responses={200: EVENT_STREAM, **BAD_STREAM_ID})
async def all_events(
    state: AppState,
    last_event_id: Annotated[str | None, Header(max_length=50)] = None,
    after: Annotated[str | None, Query(max_length=50, description="a stream id to start "
                                       "after (0-0: everything kept); default: only new events")]
    = None,
) -> StreamingResponse:
    """Every event of the queue, live, forever (a keep-alive comment every 15 s while idle)."""
    start = stream_position(last_event_id, after)
    await state.fanout.start()  # Redis down: 503 now, not a broken stream
    stream = queue_events(state.fanout, client=state.aredis, stream_key=state.queue.keys.events,
                          after=start, keep_alive=state.config.keep_alive)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)
