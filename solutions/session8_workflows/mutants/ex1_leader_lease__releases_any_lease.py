"""Mistake: release deletes the lease whoever holds it.

A leader that was frozen past its TTL wakes up, stops, and deletes its
successor's lease: a third scheduler takes it, and two lead.

Rejected by:
    test_ex1_leader_lease.py::TestPart3_release::test_a_successors_lease_is_not_deleted
"""

from __future__ import annotations

from typing import Any

import redis


def acquire(r: Any, key: str, token: str, ttl_ms: int) -> bool:
    if r.set(key, token, nx=True, px=ttl_ms):
        return True
    return renew(r, key, token, ttl_ms)


def renew(r: Any, key: str, token: str, ttl_ms: int) -> bool:
    with r.pipeline() as pipe:
        try:
            pipe.watch(key)
            if pipe.get(key) != token:
                return False
            pipe.multi()
            pipe.pexpire(key, ttl_ms)
            pipe.execute()
            return True
        except redis.WatchError:
            return False


def release(r: Any, key: str, token: str) -> bool:
    return bool(r.delete(key))
