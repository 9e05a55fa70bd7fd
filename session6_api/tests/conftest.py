"""Fixtures of the fault tests: servers of their own, which they may stop, freeze and restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _private_servers import ThrowawayRedis, need, redis_server_binary


@pytest.fixture
def private_redis() -> Iterator[ThrowawayRedis]:
    """A redis-server of this test's own on a free port (never the shared one)."""
    need(redis_server_binary() is not None, "redis-server")
    with ThrowawayRedis() as server:
        yield server
