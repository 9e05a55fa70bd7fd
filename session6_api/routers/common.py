"""What the routers share: the backends of the app, the token check, error shapes."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..backends import Backends
from ..images import ImageLibrary
from ..schemas import ErrorBody, Links, OutageBody, TaskView, ValidationErrorBody
from ..store import TaskRow

bearer = HTTPBearer(auto_error=False, description="only when the server has API_TOKEN set")


def backends(request: Request) -> Backends:
    """The app's backends, built once at start (``app.state``)."""
    return request.app.state.backends


# A route that declares ``state: AppState`` receives the app's backends (FastAPI's Depends).
AppState = Annotated[Backends, Depends(backends)]


def require_token(state: AppState,
                  credentials: Annotated[HTTPAuthorizationCredentials | None,
                                         Depends(bearer)]) -> None:
    """With ``API_TOKEN`` set, a request that changes state must send it as a Bearer token."""
    token = state.config.api_token
    if token is None:
        return
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise HTTPException(401, "this server requires 'Authorization: Bearer <token>' (the "
                                 "value of its API_TOKEN) for requests that change state",
                            headers={"WWW-Authenticate": "Bearer"})


def field_error(field: str, message: str, location: str = "body") -> HTTPException:
    """A 422 in FastAPI's own validation shape, naming the field."""
    return HTTPException(422, [{"loc": [location, field], "msg": message, "type": "value_error"}])


def error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


UNAUTHORIZED = {401: error("API_TOKEN is set and the Bearer token is missing or wrong")}
INVALID = {422: {"model": ValidationErrorBody, "description": "a field is wrong; says which"}}
# FastAPI's own answer to a body it cannot even parse (bytes that are not UTF-8 JSON, a
# broken multipart form): found by the fuzzer, documented here.
UNPARSABLE = {400: error("the body could not be parsed at all")}
# Every route: Redis or the database did not answer (outages.py).
OUTAGE = {503: {"model": OutageBody, "description": "a backend is down; Retry-After says when "
                                                    "to try again and the body names it",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}}}}


def links(task_id: str) -> Links:
    return Links(self=f"/tasks/{task_id}", events=f"/tasks/{task_id}/events",
                 result=f"/tasks/{task_id}/result")


def task_view(row: TaskRow, images: ImageLibrary | None = None) -> TaskView:
    """The row as the API shows it; with ``images``, the uploaded file's name too."""
    return TaskView(id=row.id, status=row.status, priority=row.priority, image=row.image,
                    filters=row.filters, attempts=row.attempts, error=row.error,
                    worker_id=row.worker_id, created_at=row.created_at,
                    updated_at=row.updated_at, started_at=row.started_at,
                    finished_at=row.finished_at, links=links(row.id),
                    image_name=images.uploaded_name(row.image) if images else None)
