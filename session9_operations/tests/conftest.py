"""Fixtures for session 9: a real Redis, a queue whose clock moves only when told."""

from __future__ import annotations

import pytest

from session5_recovery.workers import RecoverySettings, RedisTaskQueue


@pytest.fixture
def settings(fake_clock):
    return RecoverySettings(heartbeat_interval=1, heartbeat_ttl=5, max_attempts=3,
                            clock=fake_clock, random=lambda: 0.5)


@pytest.fixture
def queue(redis_client, queue_name, settings):
    return RedisTaskQueue(client=redis_client, queue_name=queue_name, settings=settings)
