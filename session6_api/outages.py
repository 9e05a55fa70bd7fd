"""A backend outage is ``503 Service Unavailable``, never ``500``.

When Redis or the database does not answer, the request is not wrong and the
service is not broken: it is waiting for a backend. ``503`` with
``Retry-After`` says exactly that, and a client (or a load balancer) retries
later. A ``500`` would say "a bug": it pages the wrong person and most clients
do not retry it.

The handlers below turn the client libraries' "cannot reach the server"
exceptions into that answer, naming the backend, for every route at once. They
only work because the clients are configured to give up quickly
(services.py): a frozen server must fail the request within a couple of
seconds, not hold it for the library's default.

Repeated errors are logged once per interval (``ThrottledLog``): an outage
during a burst of 1,000 requests is one line every few seconds with a count,
not 1,000 stack traces that fill the disk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis.exceptions
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

# The exceptions that mean "the server did not answer" (not "the request was wrong").
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
DATABASE_DOWN = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                 sqlalchemy.exc.TimeoutError)
BACKEND_NAMES = {"redis": "Redis (the queue)", "database": "the database"}


class ThrottledLog:
    """Log a message at most once per ``interval`` seconds per key, with how many were skipped."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}
        self._lock = threading.Lock()

    def warning(self, key: str, message: str, *args: object) -> bool:
        """True if this call logged (False: counted, and said with the next line)."""
        with self._lock:
            now = self.clock()
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._skipped[key] = self._skipped.get(key, 0) + 1
                return False
            skipped = self._skipped.pop(key, 0)
            self._last[key] = now
        suffix = f" (and {skipped} more like it in the last {self.interval:.0f} s)" if skipped else ""
        self.logger.warning(message + suffix, *args)
        return True


def backend_down(backend: str, problem: BaseException, retry_after: int) -> JSONResponse:
    """The 503 answer: which backend, what it said, when to try again."""
    reason = str(problem).splitlines()[0][:200] if str(problem) else type(problem).__name__
    return JSONResponse(
        {"detail": f"{BACKEND_NAMES[backend]} is unavailable ({type(problem).__name__}: "
                   f"{reason}); nothing was changed by this request, retry in {retry_after} s",
         "backend": backend},
        status_code=503, headers={"Retry-After": str(retry_after)})


def install_outage_handlers(app: FastAPI, retry_after: int, throttled: ThrottledLog) -> None:
    """Register the 503 answer for every route of ``app``."""

    def handler(backend: str) -> Callable[[Request, Exception], JSONResponse]:
        def answer(request: Request, problem: Exception) -> JSONResponse:
            throttled.warning(f"down:{backend}", "%s unavailable: %s %s answered 503 (%s)",
                              backend, request.method, request.url.path,
                              type(problem).__name__)
            return backend_down(backend, problem, retry_after)
        return answer

    for exception in REDIS_DOWN:
        app.add_exception_handler(exception, handler("redis"))
    for exception in DATABASE_DOWN:
        app.add_exception_handler(exception, handler("database"))
