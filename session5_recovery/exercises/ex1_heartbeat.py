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

import threading  # noqa: F401  (part 3 needs a Thread and an Event)
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
    # TODO (part 1): two facts about the worker: a key that Redis itself deletes ttl
    # seconds after the last beat (ttl may be a fraction: 0.5 s must stay 0.5 s), and its
    # entry in the registry, scored by when it was last seen. One round trip.
    raise NotImplementedError("Exercise 1, part 1: write the heartbeat key with a TTL and "
                              "the registry entry (hint: make hint SESSION=5 EXERCISE=1)")


# --- Part 2 -------------------------------------------------------------------


def is_alive(last_seen: float, now: float, ttl: float) -> bool:
    """Alive while less than ``ttl`` seconds have passed since ``last_seen``."""
    # TODO (part 2): alive while the silence is shorter than ttl; exactly ttl is dead.
    raise NotImplementedError("Exercise 1, part 2: decide liveness from last_seen, now and "
                              "ttl (hint: make hint SESSION=5 EXERCISE=1)")


def dead_workers(r: Any, queue: str, ttl: float, clock: Callable[[], float]) -> list[str]:
    """Registered workers whose last heartbeat is ``ttl`` or more seconds old, oldest first."""
    # TODO (part 2): every registered worker that part 2's rule says is dead, judged at
    # one single instant, oldest silence first.
    raise NotImplementedError("Exercise 1, part 2: list the registered workers that are "
                              "not alive (hint: make hint SESSION=5 EXERCISE=1)")


# --- Part 3 -------------------------------------------------------------------


def run_with_heartbeat(task: Callable[[], T], beat: Callable[[], None], interval: float) -> T:
    """Run ``task()`` here while another thread calls ``beat()`` every ``interval`` s."""
    # TODO (part 3): the first beat has been sent (not just started) when task() starts;
    # the beats go on while task() runs, however long it blocks; they stop (without
    # waiting out an interval) once task() returns or raises, and task()'s result or
    # error is the caller's.
    raise NotImplementedError("Exercise 1, part 3: beat from a separate thread while the "
                              "task runs (hint: make hint SESSION=5 EXERCISE=1)")
