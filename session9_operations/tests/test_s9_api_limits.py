"""A budget per client on session 6's API: 429 with Retry-After, counted on /metrics.

The app is session 6's, wrapped by ``create_operations_app``; the clock is fake, so
a window passes when the test says so.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from session6_api.config import ApiConfig
from session9_operations.app import create_operations_app
from session9_operations.ratelimit import RateLimit

pytestmark = pytest.mark.redis


@pytest.fixture
def client(tmp_path, redis_url, queue_name, fake_clock) -> Iterator[TestClient]:
    config = ApiConfig(redis_url=redis_url, database_url=f"sqlite:///{tmp_path / 'tasks.db'}",
                       queue_name=queue_name, data_dir=tmp_path / "data", background=False)
    app = create_operations_app(config, budget=RateLimit(3, 10.0), clock=fake_clock)
    try:
        # A local name: session 6's app answers only the host names it was started for.
        with TestClient(app, base_url="http://127.0.0.1") as client:
            yield client
    finally:
        app.state.backends.store.close()


def refusals(client: TestClient, kind: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'workshop_api_refusals_total{{client="{kind}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_past_the_budget_a_client_gets_429_with_retry_after(client, fake_clock):
    assert [client.get("/stats").status_code for _ in range(3)] == [200] * 3
    refused = client.get("/stats")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "10"
    assert "3 per 10 s" in refused.json()["detail"]
    fake_clock.advance(4)
    assert client.get("/stats").headers["Retry-After"] == "6"
    assert refusals(client, "address") == 2
    fake_clock.advance(6)
    assert client.get("/stats").status_code == 200


def test_each_token_has_its_own_budget(client):
    alice = {"Authorization": "Bearer alice-token"}
    bob = {"Authorization": "Bearer bob-token"}
    assert [client.get("/stats", headers=alice).status_code for _ in range(4)][-1] == 429
    assert client.get("/stats", headers=bob).status_code == 200
    assert client.get("/stats").status_code == 200  # no token: the address's own budget
    assert refusals(client, "token") == 1


def test_probes_are_never_limited(client):
    for _ in range(5):
        client.get("/stats")
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_the_operations_series_are_on_metrics(client):
    text = client.get("/metrics").text
    for name in ("workshop_oldest_pending_age_seconds", "workshop_workers_alive",
                 "workshop_workers_lost_total", "workshop_api_refusals_total"):
        assert name in text, f"{name} missing from /metrics"


def test_lost_workers_and_webhook_attempts_are_counted_from_events(redis_client, queue_name):
    from prometheus_client import CollectorRegistry, generate_latest

    from session5_recovery.workers import Event, RedisTaskQueue
    from session9_operations.metrics import OperationsMetrics
    from session9_operations.webhooks import delivery_id_for

    registry = CollectorRegistry()
    metrics = OperationsMetrics(RedisTaskQueue(client=redis_client, queue_name=queue_name), registry)
    delivery = delivery_id_for("t1")
    for name, task in [("worker_lost", None), ("failed", delivery), ("failed", delivery),
                       ("completed", delivery), ("completed", "t1"), ("failed", "t2")]:
        fields = {"task": task} if task else {"worker": "w1"}
        metrics.observe(Event(id="1-0", name=name, ts=0.0, fields=fields))
    text = generate_latest(registry).decode()
    assert "workshop_workers_lost_total 1.0" in text
    assert 'workshop_webhook_attempts_total{outcome="failed"} 2.0' in text
    assert 'workshop_webhook_attempts_total{outcome="delivered"} 1.0' in text


def test_the_alert_conditions_that_hold_now(client, redis_url, queue_name):
    from session5_recovery.workers import RedisTaskQueue

    quiet = {c["alert"]: c["holds"] for c in client.get("/operations/alerts").json()}
    assert quiet == {"OldestPendingTaskTooOld": False, "NoLiveWorker": False}
    with RedisTaskQueue(url=redis_url, queue_name=queue_name) as queue:
        queue.add_task({"type": "noop"})
    conditions = {c["alert"]: c for c in client.get("/operations/alerts").json()}
    assert conditions["NoLiveWorker"]["holds"], conditions
    assert "0 live workers, 1 tasks pending" in conditions["NoLiveWorker"]["detail"]


def test_the_dashboard_thresholds_are_the_rules(tmp_path):
    import re

    from session9_operations.alerting import OLDEST_PENDING_LIMIT, RULES

    rule = re.search(r"workshop_oldest_pending_age_seconds > (\d+)", RULES.read_text())
    assert rule and float(rule.group(1)) == OLDEST_PENDING_LIMIT
