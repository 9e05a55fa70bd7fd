"""Fixtures for session 5's queue tests: a real Redis and a clock that moves when told.

A test module that needs another queue (real time, other settings) defines its own
``queue`` fixture, which wins over this one.
"""

from __future__ import annotations

import pytest

from session5_recovery.workers import RecoverySettings, RedisTaskQueue


@pytest.fixture
def settings(fake_clock):
    return RecoverySettings(heartbeat_interval=1, heartbeat_ttl=5, backoff_base=1.0,
                            backoff_cap=10.0, max_attempts=3, clock=fake_clock,
                            random=lambda: 0.5)


@pytest.fixture
def queue(redis_client, queue_name, settings):
    return RedisTaskQueue(client=redis_client, queue_name=queue_name, settings=settings)
