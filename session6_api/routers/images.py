"""Uploads: ``POST /images`` stores an image under a name of our own and returns its id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from ..images import ImageRejected, display_name
from ..schemas import ImageCreated
from .common import INVALID, UNAUTHORIZED, UNPARSABLE, AppState, error, require_token

router = APIRouter(tags=["images"])


@router.post("/images", status_code=201, response_model=ImageCreated,
             responses={413: error("over the size or pixel limit"),
                        429: error("this client's upload budget is spent; Retry-After says "
                                   "when there is room again"),
                        415: error("does not decode as an image"), **INVALID, **UNPARSABLE, **UNAUTHORIZED},
             dependencies=[Depends(require_token)])
async def upload_image(request: Request, state: AppState, file: Annotated[UploadFile, File(description="the image file")]) -> ImageCreated:
    """Store an uploaded image; ``201`` with its id (use it as ``image`` in POST /tasks)."""
    library = state.images
    # Read one byte past the limit: enough to know it is too big, without reading a huge body.
    content = await file.read(library.max_bytes + 1)
    client = request.client.host if request.client else "?"
    wait = state.upload_budget.spend(client, len(content))
    if wait is not None:
        budget = state.upload_budget
        raise HTTPException(429, f"this client uploaded {budget.max_bytes:,} bytes in the last "
                                 f"{budget.window:.0f} s, its budget; try again in {wait:.0f} s "
                                 f"(or reuse an image id you already have)",
                            headers={"Retry-After": str(int(wait + 0.999))})
    try:
        name = display_name(file.filename)
        image_id, image = await run_in_threadpool(library.save_upload, content, name)
    except ImageRejected as rejected:
        raise HTTPException(rejected.status, str(rejected)) from None
    with image:
        return ImageCreated(id=image_id, width=image.width, height=image.height,
                            format=image.format or "?", name=name)
