"""Uploads: ``POST /images`` stores an image under a name of our own and returns its id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from ..images import ImageRejected
from ..schemas import ImageCreated
from .common import INVALID, UNAUTHORIZED, UNPARSABLE, backends, error, require_token

router = APIRouter(tags=["images"])


@router.post("/images", status_code=201, response_model=ImageCreated,
             responses={413: error("over the size or pixel limit"),
                        415: error("does not decode as an image"), **INVALID, **UNPARSABLE, **UNAUTHORIZED},
             dependencies=[Depends(require_token)])
async def upload_image(request: Request, file: Annotated[UploadFile, File(description="the image file")]) -> ImageCreated:
    """Store an uploaded image; ``201`` with its id (use it as ``image`` in POST /tasks)."""
    library = backends(request).images
    # Read one byte past the limit: enough to know it is too big, without reading a huge body.
    content = await file.read(library.max_bytes + 1)
    try:
        image_id, image = await run_in_threadpool(library.save_upload, content)
    except ImageRejected as rejected:
        raise HTTPException(rejected.status, str(rejected)) from None
    with image:
        return ImageCreated(id=image_id, width=image.width, height=image.height,
                            format=image.format or "?")
