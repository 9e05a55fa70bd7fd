"""What ``serve`` does about clients that are slow on purpose (or just slow).

Every open connection costs a file descriptor. A client that opens a
connection and sends its headers one byte a minute ("slowloris") costs one for
ever, and a process has a fixed number of them (often 1,024): a thousand such
clients and the server cannot accept anybody, not even ``/health``, while
asyncio logs "Too many open files" for every refused accept. So ``serve``:

- raises its own open-files limit to the hard limit the system allows;
- caps the connections it serves (uvicorn's ``limit_concurrency``: more get
  ``503``) below that limit, with room left for the backends and logs;
- closes a connection that has not sent a complete request head within
  ``header_timeout`` seconds (uvicorn has no such timeout of its own), and one
  that stalls in the middle of a body (request_limits.py, ``BodySizeLimit``);
- logs a repeated message once per interval with a count (``RepeatedLogFilter``).

A reverse proxy (nginx, Caddy) in front does all this better; these are the
limits the service keeps on its own.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import threading
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from .config import HEADER_TIMEOUT_SECONDS

FD_RESERVE = 64  # descriptors kept for Redis, the database, logs, the workers' pipes
MAX_CONNECTIONS = 10_000  # even with more descriptors: memory is finite too
REPEAT_INTERVAL_SECONDS = 10.0


def raise_open_files_limit() -> int:
    """The soft RLIMIT_NOFILE raised to the hard one; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = 65_536 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft


def connection_limit(open_files: int) -> int:
    """How many connections to serve with ``open_files`` descriptors."""
    return max(16, min(MAX_CONNECTIONS, open_files - FD_RESERVE))


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request head is too slow."""

    header_timeout = HEADER_TIMEOUT_SECONDS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _head_too_slow(self) -> None:
        if self.cycle is None or self.cycle.response_complete:  # no request in progress
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not None and not self.cycle.response_complete:
            self._header_timer.cancel()  # the head is complete: the request runs

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._header_timer.cancel()
        self._arm_header_timer()  # the next request on this connection gets the same time

    def connection_lost(self, exc: Exception | None) -> None:
        self._header_timer.cancel()
        super().connection_lost(exc)


def http_protocol(header_timeout: float) -> type[HeaderTimeoutProtocol]:
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,),
                {"header_timeout": header_timeout})


class RepeatedLogFilter(logging.Filter):
    """Let a message through once per ``interval`` seconds; the next one says how many were held."""

    def __init__(self, interval: float = REPEAT_INTERVAL_SECONDS) -> None:
        super().__init__()
        self.interval = interval
        self._last: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        # The first line: asyncio's "socket.accept() out of system resource" goes on with
        # the socket's details, different each time, and is still the same message.
        key = (record.name, str(record.msg).split("\n", 1)[0])
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._held[key] = self._held.get(key, 0) + 1
                return False
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            record.msg = f"{record.msg} (and {held} more like it in {self.interval:.0f} s)"
        return True


def quiet_repeats(names: tuple[str, ...] = ("asyncio", "uvicorn.error"),
                  interval: float = REPEAT_INTERVAL_SECONDS) -> None:
    """Put one RepeatedLogFilter on each of these loggers: the server's and asyncio's, whose
    messages we do not write. Ours are throttled where they are written, per backend
    (``outages.ThrottledLog``), so a Redis outage never hides a database one."""
    shared = RepeatedLogFilter(interval)
    for name in names:
        logging.getLogger(name).addFilter(shared)


def uvicorn_limits(header_timeout: float = HEADER_TIMEOUT_SECONDS) -> dict[str, Any]:
    """The uvicorn.Config options that bound what slow clients can hold."""
    return {"limit_concurrency": connection_limit(raise_open_files_limit()),
            "timeout_keep_alive": 5,  # an idle keep-alive connection is closed after 5 s
            "h11_max_incomplete_event_size": 16 * 1024,  # a request head of at most 16 KiB
            "http": http_protocol(header_timeout)}
