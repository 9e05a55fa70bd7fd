"""Refuse a request body that is too large before reading it (``413``).

FastAPI reads a JSON body whole before validating it, so without a limit a
client could send a gigabyte of JSON and the server would hold it in memory.
The ``Content-Length`` header announces the size; a body that announces too
much, or streams past the limit without announcing it, is refused.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .asgi_errors import send_json_error

Scope = dict[str, Any]
# A refused body may be partly unread: the connection closes rather than read the rest
# as the next request.
CLOSE = [(b"connection", b"close")]


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: at most ``max_bytes`` of request body."""

    def __init__(self, app: Any, max_bytes: int, read_timeout: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Each piece of the body must arrive within read_timeout seconds (408 otherwise):
        # a client trickling a body cannot hold the connection for ever.
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = body_done = False
        refusal: tuple[int, str] | None = None  # set when the body broke a limit

        async def counting_receive() -> dict[str, Any]:
            nonlocal received, body_done, refusal
            if body_done or self.read_timeout is None:
                # After the body, receive() waits for the client to leave (an SSE stream
                # listens for that for hours): no timeout there.
                message = await receive()
            else:
                try:
                    message = await asyncio.wait_for(receive(), self.read_timeout)
                except asyncio.TimeoutError:
                    refusal = (408, f"the request body stalled for more than "
                                    f"{self.read_timeout:g} s; send it in one go")
                    raise BodyTooSlow from None
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refusal = (413, self.too_large)
                    raise BodyTooLarge
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if refusal is not None:
                # The body broke a limit while FastAPI (or the form parser) read it, and
                # it turned our exception into its own 400. The answer is still ours.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await send_json_error(send, *refusal, CLOSE)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except (BodyTooLarge, BodyTooSlow):
            if not started and refusal is not None:
                started = True
                await send_json_error(send, *refusal, CLOSE)

    @property
    def too_large(self) -> str:
        return (f"the request body is larger than {self.max_bytes:,} bytes; send less "
                f"(images go to POST /images, up to its own limit)")

    async def _refuse(self, send: Any) -> None:
        await send_json_error(send, 413, self.too_large, CLOSE)
