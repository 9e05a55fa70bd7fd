"""Backend outages answer 503 (with Retry-After and the backend's name), quickly, on every route.

Each test runs the app against a PostgreSQL and a Redis of its own
(_private_servers.py), crashes or freezes one of them, and asks every route
the outage prevents. Before the clients had explicit timeouts and the app had
outage handlers, these answered 500 (and a frozen Redis held each request for
the client library's default: 5 s per try, ten tries).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _private_servers import (
    ThrowawayPostgres,
    ThrowawayRedis,
    need,
    postgres_bin_dir,
    redis_server_binary,
)
from fastapi.testclient import TestClient

from session6_api.app import create_app
from session6_api.config import ApiConfig
from session6_api.sync import EventSync

TIMEOUT = 0.5  # the app's backend_timeout in these tests
QUICKLY = 5.0  # an outage answer within this many seconds (10x the timeout: a busy machine)
SAMPLE = "photo_grace_hopper.jpg"


@pytest.fixture
def servers() -> Iterator[tuple[ThrowawayRedis, ThrowawayPostgres]]:
    need(redis_server_binary() is not None, "redis-server")
    need(postgres_bin_dir() is not None, "PostgreSQL (initdb, pg_ctl)")
    with ThrowawayRedis() as redis_server, ThrowawayPostgres() as postgres:
        yield redis_server, postgres


@dataclass
class Service:
    client: TestClient
    redis: ThrowawayRedis
    postgres: ThrowawayPostgres
    task_id: str
    config: ApiConfig


@pytest.fixture
def service(servers, tmp_path: Path) -> Iterator[Service]:
    redis_server, postgres = servers
    config = ApiConfig(redis_url=redis_server.url, database_url=postgres.url,
                       queue_name="outage", data_dir=tmp_path / "data", background=False,
                       backend_timeout=TIMEOUT)
    app = create_app(config)
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        accepted = client.post("/tasks", json={"image": SAMPLE})
        assert accepted.status_code == 202, accepted.text
        app.state.backends.relay.run_once()
        yield Service(client, redis_server, postgres, accepted.json()["id"], config)


def routes(task_id: str) -> list[tuple[str, str, dict]]:
    """(method, path, keyword arguments) for every route a backend outage can prevent."""
    return [
        ("POST", "/tasks", {"json": {"image": SAMPLE}}),
        ("GET", "/tasks", {}),
        ("GET", f"/tasks/{task_id}", {}),
        ("GET", f"/tasks/{task_id}/result", {}),
        ("DELETE", f"/tasks/{task_id}", {}),
        ("GET", f"/tasks/{task_id}/events", {}),
        ("GET", "/stats", {}),
    ]


REDIS_ROUTES = [
    ("GET", "/stats", {}),
    ("GET", "/workers", {}),
    ("GET", "/dlq", {}),
    ("POST", "/dlq/0123456789abcdef0123456789abcdef/replay", {}),
    ("DELETE", "/dlq", {}),
    ("POST", "/queue/pause", {}),
    ("POST", "/queue/resume", {}),
    ("GET", "/dashboard/state", {}),
]


def ask_all(client: TestClient, requests: list[tuple[str, str, dict]]) -> dict[str, tuple]:
    """{"METHOD path": (status, Retry-After, backend named in the body, seconds taken)}."""
    answers = {}
    for method, path, kwargs in requests:
        started = time.monotonic()
        response = client.request(method, path, **kwargs)
        took = time.monotonic() - started
        body = response.json() if response.headers.get("content-type", "").startswith(
            "application/json") else {}
        answers[f"{method} {path}"] = (response.status_code, response.headers.get("retry-after"),
                                       body.get("backend"), took)
    return answers


def assert_all_503(answers: dict[str, tuple], backend: str) -> None:
    wrong = {route: answer for route, answer in answers.items()
             if answer[:3] != (503, "5", backend) or answer[3] > QUICKLY}
    assert not wrong, f"not a quick 503 naming {backend}: {wrong}"


def test_postgres_down_answers_503_naming_the_database_on_every_route(service: Service):
    service.postgres.stop()  # a crash: no clean shutdown
    answers = ask_all(service.client, routes(service.task_id))
    assert_all_503(answers, "database")
    ready = service.client.get("/ready")
    assert ready.status_code == 503 and ready.json() == {"redis": True, "database": False}
    # And it heals: the same client works again once the server is back.
    service.postgres.start()
    assert service.client.get(f"/tasks/{service.task_id}").status_code == 200


def test_redis_down_answers_503_naming_redis_on_every_route(service: Service):
    service.redis.stop(kill=True)
    requests = [*REDIS_ROUTES, ("GET", "/events", {}),
                ("DELETE", f"/tasks/{service.task_id}", {}),
                ("GET", f"/tasks/{service.task_id}/events", {})]
    answers = ask_all(service.client, requests)
    assert_all_503(answers, "redis")
    ready = service.client.get("/ready")
    assert ready.status_code == 503 and ready.json() == {"redis": False, "database": True}
    assert service.client.get("/metrics").status_code == 200  # no queue sample, not a failure


def test_frozen_redis_answers_503_within_the_timeout(service: Service):
    service.redis.pause()  # SIGSTOP: connections are accepted, nothing is answered
    try:
        answers = ask_all(service.client, [*REDIS_ROUTES, ("GET", "/events", {})])
        started = time.monotonic()
        ready = service.client.get("/ready")
        ready_took = time.monotonic() - started
    finally:
        service.redis.resume()
    assert_all_503(answers, "redis")
    assert ready.status_code == 503 and ready.json()["redis"] is False and ready_took < QUICKLY
    slowest = max(took for *_, took in answers.values())
    print(f"frozen Redis: {len(answers)} routes answered 503, the slowest in {slowest:.2f} s "
          f"(backend timeout {TIMEOUT} s); /ready in {ready_took:.2f} s")
    assert service.client.get("/stats").status_code == 200  # and back once it thaws


def test_metrics_count_a_completion_once_when_the_database_write_fails(service: Service,
                                                                        monkeypatch):
    """The follower reads a completion, its database write fails, it reads it again."""
    backends = service.client.app.state.backends
    queue = backends.queue
    task = queue.get_task("worker-1", timeout=0)
    assert task is not None
    queue.mark_completed(task.id, {"ok": True}, worker_id="worker-1")
    sync: EventSync = backends.sync
    real_apply = backends.store.apply_events
    failures = iter([True])

    def fail_once(updates):
        if next(failures, False):
            raise RuntimeError("the database went away mid-write")
        return real_apply(updates)

    monkeypatch.setattr(backends.store, "apply_events", fail_once)
    with pytest.raises(RuntimeError):
        sync.run_once()
    while sync.run_once():
        pass
    metrics = service.client.get("/metrics").text
    assert "workshop_completions_total 1.0" in metrics
    assert service.client.get(f"/tasks/{task.id}").json()["status"] == "completed"
