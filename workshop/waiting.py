"""Wait for something that happens in another thread, process or server, with a deadline.

Demos, tests and notebooks all need "poll until this is true, but never hang": a
worker process to claim a task, a heartbeat to expire, a queue to drain. The one
rule that matters is the deadline: a wait without one turns a bug into a frozen
terminal or a CI run that stalls for an hour.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 30.0, what: str = "the condition",
               *, every: float = 0.02) -> T:
    """Call ``condition()`` every ``every`` seconds until it returns something truthy; return it.

    Raises TimeoutError naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(every)
