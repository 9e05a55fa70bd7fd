"""A JSON error answer sent by ASGI middleware itself, before the app has run.

The middleware that refuse a request (``browser_safety``, ``request_limits``)
answer with the body FastAPI gives an ``HTTPException``, ``{"detail": "..."}``,
so a client reads every refusal the same way, whoever made it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

Header = tuple[bytes, bytes]


async def send_json_error(send: Any, status: int, detail: str,
                          headers: Iterable[Header] = ()) -> None:
    """Answer ``status`` with ``{"detail": detail}``; ``headers`` go after the content ones."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
