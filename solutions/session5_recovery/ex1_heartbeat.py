"""Exercise 1: a heartbeat, and deciding from it whether a worker is alive.

A worker that is killed (``kill -9``, a power cut, the OOM killer) cannot say
"I am dying". So every live worker keeps saying "I am alive", and silence means
death: each heartbeat writes a key that expires unless it is written again.

- Part 1: ``write_heartbeat(r, queue, worker_id, now, ttl)``. Write the heartbeat
  key ``{queue}:worker:{worker_id}`` (value: ``now``) with a time to live of
  ``ttl`` seconds, and record ``now`` as the worker's last-seen time in the
  registry, the sorted set ``{queue}:workers`` (member: the worker id; score: ``now``).
- Part 2: ``is_alive(last_seen, now, ttl)`` and ``dead_workers(r, queue, ttl, clock)``.
  A worker is alive while less than ``ttl`` seconds have passed since it was last
  seen. ``dead_workers`` lists the registered workers that are not alive at the
  time ``clock()`` says, oldest silence first.
- Part 3: ``run_with_heartbeat(task, beat, interval)``. Run ``task()`` and return
  its result. The first ``beat()`` has been sent when ``task()`` starts; then a
  separate thread calls ``beat()`` every ``interval`` seconds, for as long as the task
  runs. A task may take an hour: the heartbeat must not wait for it. When the task
  ends (or raises), stop the thread and wait for it before returning.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def heartbeat_key(queue: str, worker_id: str) -> str:
    return f"{queue}:worker:{worker_id}"


def registry_key(queue: str) -> str:
    return f"{queue}:workers"


# --- Part 1 -------------------------------------------------------------------


def write_heartbeat(r: Any, queue: str, worker_id: str, now: float, ttl: float) -> None:
    """Say "worker_id is alive at now": a key that expires after ttl s, and the registry."""
    pipe = r.pipeline()
    # PX takes milliseconds: a TTL of 0.5 s would be 0 with EX (whole seconds only).
    pipe.set(heartbeat_key(queue, worker_id), repr(now), px=max(1, round(ttl * 1000)))
    pipe.zadd(registry_key(queue), {worker_id: now})
    pipe.execute()


# --- Part 2 -------------------------------------------------------------------


def is_alive(last_seen: float, now: float, ttl: float) -> bool:
    """Alive while less than ``ttl`` seconds have passed since ``last_seen``."""
    return now - last_seen < ttl


def dead_workers(r: Any, queue: str, ttl: float, clock: Callable[[], float]) -> list[str]:
    """Registered workers whose last heartbeat is ``ttl`` or more seconds old, oldest first."""
    now = clock()
    registered = r.zrange(registry_key(queue), 0, -1, withscores=True)  # lowest score first
    return [worker for worker, last_seen in registered if not is_alive(last_seen, now, ttl)]


# --- Part 3 -------------------------------------------------------------------


def run_with_heartbeat(task: Callable[[], T], beat: Callable[[], None], interval: float) -> T:
    """Run ``task()`` here while another thread calls ``beat()`` every ``interval`` s."""
    # The first beat here, before the task: a task never runs unannounced, and a worker
    # that cannot beat (Redis is down) does not start one.
    beat()
    stop = threading.Event()

    def beat_until_stopped() -> None:
        # wait() returns True as soon as stop is set: no waiting out a full interval at the end.
        while not stop.wait(interval):
            beat()

    thread = threading.Thread(target=beat_until_stopped, name="heartbeat", daemon=True)
    thread.start()
    try:
        return task()
    finally:
        stop.set()
        thread.join()
