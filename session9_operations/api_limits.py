"""A budget per client on session 6's API: ``429 Too Many Requests`` with ``Retry-After``.

An API shared by many clients must not let one of them take all of it. Each client
(its Bearer token if it sends one, else its address) gets ``limit`` requests per
``per`` seconds, counted in Redis with the same sliding window as the task limits
(ratelimit.lua, "take"), so the budget holds across every API process. Past it the
answer is 429 with ``Retry-After`` (whole seconds until the oldest request leaves the
window), and ``workshop_api_refusals_total`` counts the refusals on ``/metrics``.

It is a plain ASGI middleware: session 6's app is not changed, only wrapped. Probes
(``/health``, ``/ready``, ``/metrics``) and static files are never limited: a monitor
that is refused would report an outage that is not there. If Redis cannot be asked,
the request goes through (fail open): the routes answer 503 themselves if the queue
is really down, and a limiter must not turn a blip into a refusal of everyone.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
from prometheus_client import CollectorRegistry, Counter

from session6_api.asgi_errors import send_json_error

from .ratelimit import RATELIMIT_LUA, RateLimit

log = logging.getLogger(__name__)
EXEMPT_PREFIXES = ("/health", "/ready", "/metrics", "/static")


def budget_key(prefix: str, kind: str, who: str) -> str:
    """``{q}:api:<kind>:<who>``: the window of one client's requests (a sorted set)."""
    return f"{prefix}api:{kind}:{who}"


def budgets_pattern(prefix: str) -> str:
    """SCAN pattern of every client's window (for ``clear``)."""
    return f"{prefix}api:*"


def client_key(scope: dict[str, Any]) -> tuple[str, str]:
    """("token", digest) for a Bearer token, else ("address", the peer's address).

    The token is hashed: a key name is visible to anyone who can run SCAN.
    """
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return "token", hashlib.sha256(value[7:].strip()).hexdigest()[:16]
    client = scope.get("client")
    return "address", client[0] if client else "unknown"


class ClientRateLimit:
    """ASGI middleware: ``limit`` requests per ``per`` seconds for each client."""

    def __init__(self, app: Any, *, aredis: Any, prefix: str, budget: RateLimit,
                 registry: CollectorRegistry, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.budget = budget
        self.prefix = prefix
        self.clock = clock
        self._script = aredis.register_script(RATELIMIT_LUA)
        self.refusals = Counter("workshop_api_refusals", "Requests refused with 429, by client kind",
                                ["client"], registry=registry)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        kind, who = client_key(scope)
        try:
            reply = await self._script(
                keys=[budget_key(self.prefix, kind, who)],
                args=["take", repr(self.clock()), self.budget.limit, repr(self.budget.per),
                      uuid.uuid4().hex])
        except (redis.RedisError, OSError) as error:
            log.warning("API rate limit not checked (Redis: %s); letting the request through", error)
            await self.app(scope, receive, send)
            return
        outcome = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
        if outcome == "allowed":
            await self.app(scope, receive, send)
            return
        self.refusals.labels(kind).inc()
        wait = max(1, math.ceil(float(reply[1]) - self.clock()))
        await send_json_error(send, 429, f"too many requests: {self.budget.limit} per "
                                         f"{self.budget.per:g} s for each client; retry in {wait} s",
                              headers=[(b"retry-after", str(wait).encode())])
