"""``GET /``: the dashboard's page (a placeholder until the dashboard lands), from static/."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ..static import INDEX_HTML

router = APIRouter(tags=["dashboard"])


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(INDEX_HTML, media_type="text/html")
