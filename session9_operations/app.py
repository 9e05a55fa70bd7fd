"""Session 6's app, wrapped: a budget per client and the operations metrics.

``create_operations_app`` calls session 6's ``create_app`` unchanged and adds:

- ``ClientRateLimit`` (api_limits.py) in front of every route but the probes;
- the series the alerting rules read (metrics.py), on the same ``/metrics``;
- ``GET /operations/alerts``: which alert conditions hold now (alerting.py);
- ``GET /operations/``: a page of its own (static/) showing, refreshed every few seconds,
  those conditions, the rate limits and their use, and the webhook deliveries, read from
  ``GET /operations/status`` (status.py). Session 6's dashboard is not changed: this
  page links to it, not the other way round.

``python -m session9_operations serve`` runs it with uvicorn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from session6_api.app import create_app
from session6_api.backends import Backends
from session6_api.config import ApiConfig

from .alerting import conditions_now
from .api_limits import ClientRateLimit
from .metrics import OperationsMetrics
from .ratelimit import RateLimit
from .static import OPERATIONS_HTML, STATIC_DIR
from .status import operations_status

DEFAULT_BUDGET = RateLimit(60, 60.0)  # requests per client per minute


def create_operations_app(config: ApiConfig | None = None, *, backends: Backends | None = None,
                          budget: RateLimit = DEFAULT_BUDGET,
                          clock: Callable[[], float] = time.time) -> FastAPI:
    app = create_app(config, backends=backends)
    state: Backends = app.state.backends
    operations = OperationsMetrics(state.queue, state.metrics.registry)
    counted = state.sync.on_event

    def observe(event) -> None:
        if counted is not None:
            counted(event)
        operations.observe(event)

    state.sync.on_event = observe

    @app.get("/operations/alerts", tags=["operations"])
    def alerts_now() -> list[dict]:
        """The alert conditions one look at the queue can tell, and whether each holds now."""
        return [asdict(condition) for condition in conditions_now(state.queue)]

    @app.get("/operations/status", tags=["operations"])
    def status_now() -> dict:
        """Alert conditions, rate limits and their use, webhook deliveries: the page's data."""
        return operations_status(state.queue, state.queue.settings.clock())

    @app.get("/operations/", include_in_schema=False)
    def operations_page() -> FileResponse:
        return FileResponse(OPERATIONS_HTML)

    app.mount("/operations/static", StaticFiles(directory=STATIC_DIR), name="operations-static")

    app.add_middleware(ClientRateLimit, aredis=state.aredis, prefix=state.queue.keys.prefix,
                       budget=budget, registry=state.metrics.registry, clock=clock)
    return app
