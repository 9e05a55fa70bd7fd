"""Exercise 1: the leader lease, which makes one scheduler of many the one that fires.

Several schedulers run (on several hosts, so one can die without the schedules
stopping); only the one holding the *lease* fires. The lease is one Redis key,
``key``, holding the leader's random ``token``, with a time to live: if the
leader dies, nobody renews it, Redis deletes it, and another scheduler takes it.

- Part 1: ``acquire(r, key, token, ttl_ms)``: take the lease if nobody holds it
  (True); if we hold it already, extend it (True); if someone else does, False.
- Part 2: ``renew(r, key, token, ttl_ms)``: extend the lease only while it is
  still ours. The check and the extension must be one step: a lease that expires
  and is taken by another scheduler *between* them must not be extended, and
  ``renew`` must then say False (we are no longer the leader).
- Part 3: ``release(r, key, token)``: at a clean exit, delete the lease, but only
  if it is ours: a leader that lost it must not delete its successor's.

The real lease (``session8_workflows/scheduler.py``, ``workflows.lua``) does each
step in a Lua script; here Redis's optimistic transactions (WATCH, MULTI, EXEC)
make the check and the write one step, and fakeredis runs them.
"""

from __future__ import annotations

from typing import Any

import redis

# --- Part 1 -------------------------------------------------------------------


def acquire(r: Any, key: str, token: str, ttl_ms: int) -> bool:
    """Become (or stay) the leader: True if the lease is ours after the call."""
    if r.set(key, token, nx=True, px=ttl_ms):
        return True
    return renew(r, key, token, ttl_ms)


# --- Part 2 -------------------------------------------------------------------


def renew(r: Any, key: str, token: str, ttl_ms: int) -> bool:
    """Extend the lease if it is still ours; False (and nothing changed) if not."""
    with r.pipeline() as pipe:
        try:
            pipe.watch(key)  # EXEC fails if anyone changes the key from here on
            if pipe.get(key) != token:
                return False
            pipe.multi()
            pipe.pexpire(key, ttl_ms)
            pipe.execute()
            return True
        except redis.WatchError:  # it changed between the check and the extension
            return False


# --- Part 3 -------------------------------------------------------------------


def release(r: Any, key: str, token: str) -> bool:
    """Delete the lease if it is ours: True if deleted."""
    with r.pipeline() as pipe:
        try:
            pipe.watch(key)
            if pipe.get(key) != token:
                return False
            pipe.multi()
            pipe.delete(key)
            pipe.execute()
            return True
        except redis.WatchError:
            return False
