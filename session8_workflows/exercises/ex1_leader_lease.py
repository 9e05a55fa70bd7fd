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

import redis  # noqa: F401  (redis.WatchError: a watched key changed)

# --- Part 1 -------------------------------------------------------------------


def acquire(r: Any, key: str, token: str, ttl_ms: int) -> bool:
    """Become (or stay) the leader: True if the lease is ours after the call."""
    # TODO (part 1): the lease is free if the key does not exist: take it in ONE command
    # that writes only if the key is absent and sets the time to live at once (a key
    # written without a TTL would make us leader for ever, even dead). If it is taken,
    # it may be ours: then extending it (part 2) is the answer.
    raise NotImplementedError("Exercise 1, part 1: take the lease if it is free "
                              "(hint: make hint SESSION=8 EXERCISE=1)")


# --- Part 2 -------------------------------------------------------------------


def renew(r: Any, key: str, token: str, ttl_ms: int) -> bool:
    """Extend the lease if it is still ours; False (and nothing changed) if not."""
    # TODO (part 2): extend the TTL only if the key still holds our token. Another
    # scheduler may take the lease between your check and your write: make the two one
    # step (an optimistic transaction: watch the key, check, then a MULTI that Redis
    # refuses if the key changed). A refused or failed check means: not the leader.
    raise NotImplementedError("Exercise 1, part 2: extend the lease only while it is ours "
                              "(hint: make hint SESSION=8 EXERCISE=1)")


# --- Part 3 -------------------------------------------------------------------


def release(r: Any, key: str, token: str) -> bool:
    """Delete the lease if it is ours: True if deleted."""
    # TODO (part 3): the same rule as part 2: delete the key only if it holds our
    # token, checked and deleted in one step; someone else's lease is left alone.
    raise NotImplementedError("Exercise 1, part 3: release the lease only if it is ours "
                              "(hint: make hint SESSION=8 EXERCISE=1)")
