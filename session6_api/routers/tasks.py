"""Tasks: accept (202), look up, page through, fetch the result, cancel.

``POST /tasks`` is the asynchronous request-reply pattern: it validates, writes
the task row and its outbox row in one transaction and answers ``202
Accepted`` at once, with ``Location`` (where to look) and ``Retry-After``
(when). The work happens later, in a worker. ``202`` promises nothing about
the outcome; the status resource ``GET /tasks/{id}`` tells it.

Unknown ids are ``404``. Celery answers "PENDING" for any id it has never
seen (it cannot tell "not started" from "never existed"), so a typo waits
forever; we have the row or we do not.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import redis
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from ..backends import Backends
from ..config import MAX_WAIT_SECONDS
from ..queue_ops import cancel
from ..schemas import Status, TaskAccepted, TaskPage, TaskRequest, TaskView
from ..sse import Subscription
from ..store import IdempotencyConflict, TaskRow, decode_cursor
from ..vocabulary import TERMINAL_EVENTS
from .common import (
    INVALID,
    UNAUTHORIZED,
    UNPARSABLE,
    AppState,
    error,
    field_error,
    links,
    require_token,
    task_view,
)

router = APIRouter(tags=["tasks"])
IDEMPOTENCY_KEY_MAX = 255


def accept(state: Backends, body: TaskRequest, key: str | None) -> tuple[TaskRow, bool]:
    """Validate the image, build the queue's task and record both rows (a thread, not the loop)."""
    try:
        source = state.images.resolve(body.image)
    except ValueError as problem:
        raise field_error("image", str(problem)) from None
    task_id = uuid.uuid4().hex
    output = state.config.results_dir / f"{task_id}.png"
    queue_task = {"type": "image", "image_path": str(source), "output_path": str(output)}
    if body.filters:
        queue_task["filters"] = list(body.filters)
    request = {"image": body.image, "filters": list(body.filters), "priority": body.priority}
    try:
        return state.store.create_task(task_id, request, queue_task, idempotency_key=key,
                                       result_path=str(output))
    except IdempotencyConflict as problem:
        raise HTTPException(422, [{"loc": ["header", "Idempotency-Key"], "msg": str(problem),
                                   "type": "idempotency_conflict"}]) from None


@router.post(
    "/tasks", status_code=202, response_model=TaskAccepted,
    responses={200: {"model": TaskView, "description": "?wait=S and the task finished in time"},
               202: {"description": "accepted; follow Location",
                     "headers": {"Location": {"schema": {"type": "string"}},
                                 "Retry-After": {"schema": {"type": "integer"}}}},
               413: error("the body is over the size limit"),
               **INVALID, **UNPARSABLE, **UNAUTHORIZED},
    dependencies=[Depends(require_token)])
async def create_task(
    body: TaskRequest, state: AppState,
    wait: Annotated[float | None, Query(ge=0, le=MAX_WAIT_SECONDS,
                                        description="wait up to this many seconds for the "
                                                    "result (200), else 202")] = None,
    idempotency_key: Annotated[str | None, Header(max_length=IDEMPOTENCY_KEY_MAX,
                                                  description="same key and body: same task")] = None,
) -> Response:
    """Accept an image task: ``202`` with ``Location`` and ``Retry-After`` (or ``200`` with ?wait)."""
    # Listen BEFORE the task exists: its terminal event cannot come before we hear.
    subscription = await _listen(state) if wait else None
    try:
        row, created = await run_in_threadpool(accept, state, body, idempotency_key)
        if subscription is not None and wait:
            row = await _finished_within(state, subscription, row, created, wait)
            if row.finished:
                return JSONResponse(task_view(row, state.images).model_dump(), status_code=200)
    finally:
        if subscription is not None:
            state.fanout.unsubscribe(subscription)
    accepted = TaskAccepted(id=row.id, status=row.status, links=links(row.id))
    return JSONResponse(accepted.model_dump(), status_code=202,
                        headers={"Location": f"/tasks/{row.id}",
                                 "Retry-After": str(state.config.retry_after)})


@router.get("/tasks", response_model=TaskPage, responses={**INVALID})
def list_tasks(state: AppState, status: Status | None = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50,
               cursor: Annotated[str | None, Query(max_length=200)] = None) -> TaskPage:
    """A page of tasks, newest first; ``next_cursor`` fetches the next page."""
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except ValueError as problem:
            raise field_error("cursor", str(problem), "query") from None
    rows, next_cursor = state.store.page(status=status, limit=limit, cursor=cursor)
    return TaskPage(items=[task_view(r, state.images) for r in rows], next_cursor=next_cursor)


async def _listen(state: Backends) -> Subscription | None:
    """A mailbox on the app's shared event reader; None if Redis does not answer (then
    ``?wait`` cannot wait, and the accepted task gets its ``202`` at once)."""
    try:
        return await state.fanout.subscribe()
    except (redis.RedisError, OSError):
        return None


async def _finished_within(state: Backends, subscription: Subscription, row: TaskRow,
                           created: bool, seconds: float) -> TaskRow:
    """The row once the task's terminal event arrives, or as it is after ``seconds``.

    The event can arrive before the follower has written it to the row, so the
    task's events are applied now (``catch_up``: fenced, harmless twice). A
    repeated request (same idempotency key) may name a task that ended before we
    listened: its events are caught up first.
    """
    try:
        if not created and not row.finished:
            await run_in_threadpool(state.catch_up, row.id)
            row = await run_in_threadpool(state.store.get, row.id) or row
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not row.finished and (left := deadline - loop.time()) > 0:
            event = await subscription.next(left)
            if event is None and subscription.dropped:
                break  # too far behind to trust what we would hear next
            if event is not None and event.task_id == row.id and event.name in TERMINAL_EVENTS:
                await run_in_threadpool(state.catch_up, row.id)
                row = await run_in_threadpool(state.store.get, row.id) or row
    except (redis.RedisError, OSError):
        pass  # Redis went away while we waited: the task is accepted, answer 202
    return row


def _row_or_404(state: Backends, task_id: str) -> TaskRow:
    row = state.store.get(task_id)
    if row is None:
        raise HTTPException(404, f"no task with id {task_id!r}; use the id that POST /tasks "
                                 f"returned (GET /tasks lists them)")
    return row


@router.get("/tasks/{task_id}", response_model=TaskView,
            responses={404: error("no task with this id")})
def get_task(task_id: str, state: AppState) -> TaskView:
    """The task's status, attempts, error, timestamps and links."""
    return task_view(_row_or_404(state, task_id), state.images)


@router.get("/tasks/{task_id}/result",
            responses={200: {"content": {"image/png": {}}, "description": "the processed image"},
                       404: error("no task with this id"),
                       409: error("the task has not completed (yet)")},
            response_class=FileResponse)
def get_result(task_id: str, state: AppState) -> FileResponse:
    """The processed image once the task completed; ``409`` before."""
    row = _row_or_404(state, task_id)
    if row.status != "completed" or not row.result_path:
        raise HTTPException(409, f"task {task_id} is {row.status}, not completed: there is no "
                                 f"result yet; follow /tasks/{task_id}/events or retry later",
                            headers={"Retry-After": "1"})
    return FileResponse(row.result_path, media_type="image/png",
                        filename=f"{task_id}.png")


@router.delete("/tasks/{task_id}", status_code=204,
               responses={404: error("no task with this id"),
                          409: error("the task was already claimed or has finished"),
                          **UNAUTHORIZED},
               dependencies=[Depends(require_token)])
def delete_task(task_id: str, state: AppState) -> Response:
    """Cancel a task that is still pending (``204``); ``409`` once a worker has claimed it."""
    row = _row_or_404(state, task_id)
    if row.status == "pending":
        # Not handed to Redis yet? The relay sends it now (idempotent), so the cancel
        # is the queue's own atomic decision and cannot race the relay's next pass.
        state.relay.send_now(task_id)
        if cancel(state.queue, task_id):
            state.catch_up(task_id)
            return Response(status_code=204)
        row = state.store.get(task_id) or row
    raise HTTPException(409, f"task {task_id} is {row.status}: only a pending task can be "
                             f"cancelled (a claimed task runs to its end)")
