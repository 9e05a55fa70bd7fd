"""The bench's other variant: do the work inside the request, then answer (no queue).

Session 1's "without a queue", over HTTP: the client waits for the whole image
pipeline, and a server thread is busy for all that time. Mounted only when
``ApiConfig.in_request_route`` is set (``python -m session6_api.teaching.bench`` does).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool

from session2_pipeline.core import FilterFactory, default_pipeline

from ..routers.common import AppState, field_error
from ..schemas import TaskRequest

router = APIRouter(tags=["bench"])


@router.post("/bench/in-request", status_code=200, include_in_schema=False)
async def process_now(body: TaskRequest, state: AppState) -> dict:
    try:
        source = state.images.resolve(body.image)
    except ValueError as problem:
        raise field_error("image", str(problem)) from None
    output = state.config.results_dir / f"inline_{uuid.uuid4().hex}.png"
    pipeline = FilterFactory.pipeline(body.filters) if body.filters else default_pipeline()
    try:
        result = await run_in_threadpool(pipeline.process_file, source, output)
    except ValueError as problem:
        raise HTTPException(422, str(problem)) from None
    return {"status": "completed", "result": result}
