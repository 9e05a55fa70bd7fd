"""``clear`` leaves nothing of the queue behind, this session's keys included.

Each key this session adds is written the way the session writes it (a webhook owed
and delivered, a rate limit and its window, a client's budget through the API), then
``clear`` runs and a SCAN of the queue's hash tag must find nothing.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from session5_recovery.workers import RecoverySettings
from session5_recovery.workers.redis_task_queue import COMMAND_CHUNK
from session6_api.config import ApiConfig
from session9_operations.api_limits import budget_key
from session9_operations.app import create_operations_app
from session9_operations.operations_queue import OperationsQueue, WorkflowOperationsQueue
from session9_operations.outbox import owe_notification
from session9_operations.ratelimit import RateLimit, RateLimiter, starts_key
from session9_operations.webhooks import ALLOWED_HOSTS_ENV, count_delivered

pytestmark = pytest.mark.redis


def keys_of(client, queue) -> list[str]:
    return sorted(client.scan_iter(match=f"{queue.keys.prefix}*", count=1000))


def spend_api_budget(tmp_path, redis_url: str, queue_name: str) -> None:
    """Two requests through session 6's API with this session's budget: one per client kind."""
    config = ApiConfig(redis_url=redis_url, database_url=f"sqlite:///{tmp_path / 'tasks.db'}",
                       queue_name=queue_name, data_dir=tmp_path / "data", background=False)
    app = create_operations_app(config, budget=RateLimit(5, 60.0))
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            client.get("/tasks")
            client.get("/tasks", headers={"Authorization": "Bearer a-token"})
    finally:
        app.state.backends.store.close()


@pytest.mark.parametrize("queue_class", [OperationsQueue, WorkflowOperationsQueue])
def test_clear_leaves_no_key_of_the_queue(queue_class, redis_client, redis_url, queue_name,
                                          tmp_path, monkeypatch):
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "127.0.0.1")
    queue = queue_class(client=redis_client, queue_name=queue_name,
                        settings=RecoverySettings(heartbeat_interval=1, heartbeat_ttl=5))
    task_id = queue.add_task({"type": "ok", "webhook_url": "http://127.0.0.1:17801/hook"})
    owe_notification(queue, [task_id])
    count_delivered(queue)
    limiter = RateLimiter(queue)
    limiter.set("email", RateLimit(3, 60.0))
    assert limiter.acquire("email", "first").outcome == "allowed"
    spend_api_budget(tmp_path, redis_url, queue_name)
    written = keys_of(redis_client, queue)
    for ours in ("webhook_outbox", "webhook_delivered", "ratelimits", "ratelimit:email",
                 "api:address:", "api:token:"):
        assert any(key.startswith(queue.keys.prefix + ours) for key in written), ours

    queue.clear()

    assert keys_of(redis_client, queue) == []


def test_clear_removes_more_windows_than_one_chunk(redis_client, queue_name):
    queue = OperationsQueue(client=redis_client, queue_name=queue_name)
    many = 2 * COMMAND_CHUNK + 1
    pipe = redis_client.pipeline(transaction=False)
    for n in range(many):
        pipe.zadd(budget_key(queue.keys.prefix, "address", f"10.0.{n // 256}.{n % 256}"), {"r": 1})
        pipe.zadd(starts_key(queue.keys, f"type{n}"), {"t/1": 1})
    pipe.execute()

    assert queue.clear() >= 2 * many
    assert keys_of(redis_client, queue) == []
