"""Fixtures for session 8's tests: session 5's queue grown a workflow engine, on a fake clock."""

from __future__ import annotations

import pytest

from session5_recovery.workers import RecoverySettings
from session8_workflows import WorkflowQueue


@pytest.fixture
def settings(fake_clock):
    return RecoverySettings(heartbeat_interval=1, heartbeat_ttl=5, max_attempts=2,
                            backoff_base=1.0, backoff_cap=1.0, clock=fake_clock,
                            random=lambda: 0.5)


@pytest.fixture
def queue(redis_client, queue_name, settings):
    return WorkflowQueue(client=redis_client, queue_name=queue_name, settings=settings)


@pytest.fixture
def written(queue):
    """Every key of this queue (session 5's and session 8's): what "nothing written" checks."""
    return lambda: sorted(queue.client.scan_iter(match=f"{queue.keys.prefix}*", count=1000))
