"""Mistake: renew extends the lease without checking whose it is.

Rejected by:
    test_ex1_leader_lease.py::TestPart2_renew::test_another_schedulers_lease_is_left_alone
    test_ex1_leader_lease.py::TestPart2_renew::test_a_takeover_between_the_check_and_the_extension_is_noticed
"""

from __future__ import annotations

from typing import Any


def acquire(r: Any, key: str, token: str, ttl_ms: int) -> bool:
    if r.set(key, token, nx=True, px=ttl_ms):
        return True
    return renew(r, key, token, ttl_ms)


def renew(r: Any, key: str, token: str, ttl_ms: int) -> bool:
    return bool(r.pexpire(key, ttl_ms))  # anyone's lease, as long as it exists


def release(r: Any, key: str, token: str) -> bool:
    if r.get(key) != token:
        return False
    return bool(r.delete(key))
