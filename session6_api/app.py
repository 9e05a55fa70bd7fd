"""The FastAPI app: ``create_app(config)`` wires the backends to the routers.

One router module per area (routers/tasks.py, images.py, events.py,
operations.py, dashboard.py), each reading what it needs from
``request.app.state.backends`` (backends.py), so a new area (the dashboard) is
a new module and one line here.

With ``config.background`` the app runs the outbox relay and the event
follower in two threads while it serves (``python -m session6_api serve``);
tests turn that off and call ``relay.run_once()`` / ``sync.run_once()``
themselves, so nothing depends on timing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .backends import Backends, build_backends
from .browser_safety import BrowserSafety
from .config import ApiConfig
from .outages import install_outage_handlers
from .request_limits import BodySizeLimit
from .routers import dashboard, events, images, operations, tasks
from .routers.common import OUTAGE

STATIC_DIR = Path(__file__).with_name("static")


def create_app(config: ApiConfig | None = None, *, backends: Backends | None = None) -> FastAPI:
    """The app for ``config`` (default: from the environment)."""
    config = config or (backends.config if backends else ApiConfig.from_env())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: Backends = app.state.backends
        if config.background:
            state.start_background()
        try:
            yield
        finally:
            state.stop_background()
            await state.fanout.close()
            if owns_backends:
                await state.aredis.aclose()
                state.queue.close()
                state.store.close()

    app = FastAPI(
        title="Task Queues Workshop: session 6",
        version="1.0",
        description="Image tasks behind an API: 202 Accepted, a status resource, Server-Sent "
                    "Events, a database with an outbox, and the queue's operations.",
        lifespan=lifespan,
    )
    owns_backends = backends is None
    app.state.backends = backends or build_backends(config)
    for module in (tasks, images, events, operations, dashboard):
        app.include_router(module.router, responses=OUTAGE)
    if config.in_request_route:
        from .teaching import in_request  # the bench's variant: loaded only when it is mounted

        app.include_router(in_request.router, responses=OUTAGE)
    install_outage_handlers(app, config.outage_retry_after, app.state.backends.throttled)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # An upload may be max_upload_bytes; a little more for the multipart framing.
    app.add_middleware(BodySizeLimit, max_bytes=config.max_upload_bytes + 64 * 1024,
                       read_timeout=config.body_timeout)
    # Added last, so it runs first: a foreign Host or a cross-origin POST is refused
    # before anything else looks at the request.
    app.add_middleware(BrowserSafety, allowed_hosts=config.allowed_hosts)
    return app
