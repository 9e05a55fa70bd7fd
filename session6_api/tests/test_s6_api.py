"""The HTTP contract, in-process (TestClient), on SQLite and on PostgreSQL, with the real Redis.

The relay and the event follower do not run in background threads here:
``api.pump()`` runs one pass of each, and a ``RedisWorker`` in burst mode does
the work, so no test waits on the clock.
"""

from __future__ import annotations

import io
import json
import threading

import pytest
from PIL import Image

from session5_recovery.workers import RedisWorker
from workshop.waiting import wait_until

# An HTTP contract (status codes, headers, messages) is the same whatever the database: these
# tests run on SQLite. The ones that go through the store's queries (rows updated by events,
# idempotency keys, pages, counts, cancel, the DLQ's rows) run on PostgreSQL too (BOTH_DATABASES).
pytestmark = [pytest.mark.redis, pytest.mark.databases("sqlite"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
BOTH_DATABASES = pytest.mark.databases("sqlite", "postgresql")

SAMPLE = "photo_grace_hopper.jpg"


def post_task(api, body=None, **kwargs):
    return api.client.post("/tasks", json=body or {"image": SAMPLE, "filters": ["grayscale"]},
                           **kwargs)


def run_worker(api, worker_id="worker-1"):
    """Process everything pending in this test's queue, then apply the events to the rows."""
    api.pump()
    worker = RedisWorker(worker_id, api.backends.queue,
                         allowed_dirs=[api.config.data_dir], log=None)
    worker.start(burst=True, handle_signals=False)
    api.pump()
    return worker


def png_bytes(size=(32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- POST /tasks: 202, Location, Retry-After, the outbox --------------------------------


def test_post_answers_202_with_location_and_retry_after(api):
    response = post_task(api)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert response.headers["Location"] == f"/tasks/{body['id']}"
    assert int(response.headers["Retry-After"]) >= 1
    # Accepted means: a row and an outbox row, and nothing in Redis until the relay runs.
    assert api.backends.store.get(body["id"]).status == "pending"
    assert api.backends.store.unsent_count() == 1
    assert api.backends.queue.get_task_info(body["id"]) is None
    api.pump()
    assert api.backends.store.unsent_count() == 0
    assert api.backends.queue.get_task_info(body["id"]) is not None  # the same id in Redis


@BOTH_DATABASES
def test_a_task_runs_to_completed_and_its_result_is_served(api):
    task_id = post_task(api).json()["id"]
    before = api.client.get(f"/tasks/{task_id}/result")
    assert before.status_code == 409, before.text
    run_worker(api)
    view = api.client.get(f"/tasks/{task_id}").json()
    assert view["status"] == "completed", view
    assert view["attempts"] == 1 and view["worker_id"] == "worker-1"
    assert view["started_at"] <= view["finished_at"]
    assert view["links"]["result"] == f"/tasks/{task_id}/result"
    result = api.client.get(f"/tasks/{task_id}/result")
    assert result.status_code == 200
    assert result.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(result.content)).mode == "L"  # grayscale was applied


def test_unknown_ids_are_404_not_pending(api):
    for path in ("/tasks/nope", "/tasks/nope/result", "/tasks/nope/events"):
        response = api.client.get(path)
        assert response.status_code == 404, (path, response.text)
        assert "nope" in response.json()["detail"]


@pytest.mark.parametrize(("body", "field"), [
    ({"image": 42}, "image"),
    ({"image": SAMPLE, "filters": "blur"}, "filters"),
    ({"image": SAMPLE, "filters": ["sepia"]}, "filters"),
    ({"image": SAMPLE, "filters": ["blur:radius=-3"]}, "filters"),
    ({"image": SAMPLE, "priority": "urgent"}, "priority"),
    ({"image": SAMPLE, "colour": "red"}, "colour"),
    ({"image": "../../etc/passwd"}, "image"),
    ({"image": "img_" + "0" * 32}, "image"),
    ({"image": "x" * 5000}, "image"),
    ({"filters": ["grayscale"]}, "image"),
])
def test_invalid_bodies_get_422_naming_the_field(api, body, field):
    response = post_task(api, body)
    assert response.status_code == 422, response.text
    locations = [item["loc"] for item in response.json()["detail"]]
    assert any(field in loc for loc in locations), locations
    assert api.backends.store.counts()["pending"] == 0  # nothing recorded


def test_unknown_filter_message_says_what_is_allowed(api):
    detail = post_task(api, {"image": SAMPLE, "filters": ["sepia"]}).json()["detail"][0]
    assert "sepia" in detail["msg"] and "grayscale" in detail["msg"]


def test_missing_image_message_lists_the_samples(api):
    detail = post_task(api, {"image": "nosuch.jpg"}).json()["detail"][0]
    assert SAMPLE in detail["msg"]


def test_a_huge_body_is_413_before_it_is_read(api):
    huge = b'{"image": "' + b"x" * (api.config.max_upload_bytes + 100_000) + b'"}'
    response = api.client.post("/tasks", content=huge,
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text[:300]
    assert "larger than" in response.json()["detail"]


def test_a_body_that_is_not_json_is_422(api):
    response = api.client.post("/tasks", content=b"{not json",
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 422


# --- Idempotency-Key ------------------------------------------------------------------


@BOTH_DATABASES
def test_same_key_and_body_give_the_same_task_once(api):
    headers = {"Idempotency-Key": "order-17"}
    first = post_task(api, headers=headers)
    second = post_task(api, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert sum(api.backends.store.counts().values()) == 1
    api.pump()
    assert api.backends.queue.get_stats()["enqueued"] == 1


@BOTH_DATABASES
def test_same_key_with_another_body_is_422(api):
    headers = {"Idempotency-Key": "order-18"}
    post_task(api, headers=headers)
    other = post_task(api, {"image": SAMPLE, "filters": ["edges"]}, headers=headers)
    assert other.status_code == 422, other.text
    assert other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert sum(api.backends.store.counts().values()) == 1


def test_without_a_key_each_post_is_a_new_task(api):
    assert post_task(api).json()["id"] != post_task(api).json()["id"]


# --- priorities -----------------------------------------------------------------------


def test_high_priority_is_claimed_first(api):
    low = post_task(api, {"image": SAMPLE, "priority": "low"}).json()["id"]
    high = post_task(api, {"image": SAMPLE, "priority": "high"}).json()["id"]
    api.pump()
    task = api.backends.queue.get_task("worker-1", timeout=0)
    assert task.id == high, f"claimed {task.id}, expected the high-priority {high} before {low}"


def test_wait_answers_when_the_completion_event_arrives_not_when_a_follower_wrote_it(api):
    """``?wait=`` listens to the event stream: no follower runs here (no pump), so the row is
    still pending in the database when the task completes; the answer is 200 all the same,
    with what the events say (one attempt, the worker), and the worker ran the task once."""
    worker = RedisWorker("worker-1", api.backends.queue,
                         allowed_dirs=[api.config.data_dir], log=None)

    def relay_then_work() -> None:
        # The task exists once the request has written it: the relay pushes it, then one
        # burst worker runs it. Events reach the rows only through the request's wait.
        wait_until(api.backends.relay.run_once, 30, "the request to write its task")
        worker.start(burst=True, handle_signals=False)

    helper = threading.Thread(target=relay_then_work)
    helper.start()
    try:
        response = post_task(api, params={"wait": 30})
    finally:
        helper.join(60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed" and body["attempts"] == 1
    assert body["worker_id"] == "worker-1"
    assert worker.counts.completed == 1


# --- cancel ---------------------------------------------------------------------------


@BOTH_DATABASES
def test_delete_cancels_a_pending_task(api):
    task_id = post_task(api).json()["id"]  # its outbox row is not sent yet (no relay pass)
    assert api.client.delete(f"/tasks/{task_id}").status_code == 204
    # The relay handed the row over (pushed once, marked sent) before the queue cancelled it.
    assert api.backends.relay.counts.pushed == 1
    assert api.backends.store.unsent_count() == 0
    assert api.client.get(f"/tasks/{task_id}").json()["status"] == "cancelled"
    run_worker(api)
    assert api.client.get(f"/tasks/{task_id}").json()["status"] == "cancelled"


def test_delete_of_a_claimed_task_is_409(api):
    task_id = post_task(api).json()["id"]
    api.pump()
    assert api.backends.queue.get_task("worker-1", timeout=0).id == task_id
    api.pump()
    response = api.client.delete(f"/tasks/{task_id}")
    assert response.status_code == 409, response.text


def test_delete_of_an_unknown_task_is_404(api):
    assert api.client.delete("/tasks/nope").status_code == 404


# --- SSE per task (finite: it ends at the terminal event) ----------------------------


def sse_events(text: str) -> list[dict]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines()
                      if line and not line.startswith(":"))
        if fields:
            events.append(fields)
    return events


def test_events_of_a_finished_task_are_its_whole_history_then_the_end(api):
    task_id = post_task(api).json()["id"]
    run_worker(api)
    response = api.client.get(f"/tasks/{task_id}/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert [e["event"] for e in events] == ["enqueued", "claimed", "completed"]
    assert all(json.loads(e["data"])["task"] == task_id for e in events)


def test_last_event_id_resumes_without_loss_or_repeat(api):
    task_id = post_task(api).json()["id"]
    run_worker(api)
    everything = sse_events(api.client.get(f"/tasks/{task_id}/events").text)
    resumed = sse_events(api.client.get(f"/tasks/{task_id}/events",
                                        headers={"Last-Event-ID": everything[0]["id"]}).text)
    assert [e["id"] for e in resumed] == [e["id"] for e in everything[1:]]


# --- the DLQ --------------------------------------------------------------------------


def dead_letter_one(api) -> str:
    """Upload an image, ask for a task on it, then remove the file: the worker cannot read it."""
    image_id = api.client.post("/images", files={"file": ("a.png", png_bytes(), "image/png")}
                               ).json()["id"]
    task_id = post_task(api, {"image": image_id}).json()["id"]
    for path in api.config.images_dir.glob(f"{image_id}.*"):
        path.unlink()
    run_worker(api)
    return task_id


@BOTH_DATABASES
def test_a_failing_task_is_dead_lettered_listed_and_replayed(api):
    task_id = dead_letter_one(api)
    view = api.client.get(f"/tasks/{task_id}").json()
    assert view["status"] == "dead_lettered", view
    assert view["error"]
    listed = api.client.get("/dlq").json()
    assert [item["id"] for item in listed] == [task_id]
    replayed = api.client.post(f"/dlq/{task_id}/replay")
    assert replayed.status_code == 200, replayed.text
    assert api.client.get(f"/tasks/{task_id}").json()["status"] == "pending"


def test_replay_of_an_id_not_in_the_dlq_is_404(api):
    task_id = post_task(api).json()["id"]
    assert api.client.post(f"/dlq/{task_id}/replay").status_code == 404
    assert api.client.post("/dlq/nope/replay").status_code == 404


def test_purge_empties_the_dlq(api):
    dead_letter_one(api)
    assert api.client.delete("/dlq").json() == {"purged": 1}
    assert api.client.get("/dlq").json() == []


# --- uploads --------------------------------------------------------------------------


def test_upload_gets_201_and_a_name_of_our_own(api):
    response = api.client.post("/images",
                               files={"file": ("../../evil.png", png_bytes(), "image/png")})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("img_") and (body["width"], body["height"]) == (32, 24)
    stored = list(api.config.images_dir.iterdir())
    assert [p.name for p in stored] == [f"{body['id']}.png"]
    assert not (api.config.data_dir.parent / "evil.png").exists()
    assert post_task(api, {"image": body["id"]}).status_code == 202


def test_upload_that_is_not_an_image_is_415(api):
    response = api.client.post("/images", files={"file": ("a.png", b"#!/bin/sh\nrm -rf /\n",
                                                          "image/png")})
    assert response.status_code == 415
    assert "does not decode as an image" in response.json()["detail"]


def test_upload_over_the_size_limit_is_413(api):
    limit = api.config.max_upload_bytes
    response = api.client.post("/images", files={"file": ("big.png", b"\0" * (limit + 10),
                                                          "image/png")})
    assert response.status_code == 413


def test_decompression_bomb_is_413(api):
    side = int(api.config.max_image_pixels ** 0.5) + 100
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG")  # a few KB, many pixels
    response = api.client.post("/images", files={"file": ("bomb.png", buffer.getvalue(),
                                                          "image/png")})
    assert response.status_code == 413, response.text
    assert "pixels" in response.json()["detail"]


# --- listing --------------------------------------------------------------------------


@BOTH_DATABASES
def test_pages_are_newest_first_and_cover_every_task_once(api):
    ids = [post_task(api).json()["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/tasks", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


@BOTH_DATABASES
def test_listing_filters_by_status_and_refuses_a_forged_cursor(api):
    post_task(api)
    assert api.client.get("/tasks", params={"status": "completed"}).json()["items"] == []
    assert len(api.client.get("/tasks", params={"status": "pending"}).json()["items"]) == 1
    assert api.client.get("/tasks", params={"cursor": "garbage!"}).status_code == 422
    assert api.client.get("/tasks", params={"status": "lost"}).status_code == 422


# --- operations -----------------------------------------------------------------------


@BOTH_DATABASES
def test_stats_counts_redis_and_database(api):
    post_task(api)
    stats = api.client.get("/stats").json()
    assert stats["database"]["pending"] == 1 and stats["outbox_unsent"] == 1
    assert stats["queue"]["pending"] == 0
    api.pump()
    stats = api.client.get("/stats").json()
    assert stats["queue"]["pending"] == 1 and stats["outbox_unsent"] == 0


def test_workers_lists_registered_workers(api):
    post_task(api)
    run_worker(api, "worker-7")
    # A burst worker deregisters when it leaves: register one by hand to see it listed.
    api.backends.queue.register_worker("worker-8")
    workers = api.client.get("/workers").json()
    assert [w["worker_id"] for w in workers] == ["worker-8"] and workers[0]["alive"]
    assert 0 < workers[0]["ttl_left"] <= workers[0]["heartbeat_ttl"]


def test_pause_stops_claims_and_resume_restarts_them(api):
    assert api.client.post("/queue/pause").json() == {"paused": True}
    post_task(api)
    api.pump()
    assert api.backends.queue.get_task("worker-1", timeout=0) is None
    assert api.client.post("/queue/resume").json() == {"paused": False}
    assert api.backends.queue.get_task("worker-1", timeout=0) is not None


def test_health_and_ready(api, monkeypatch):
    assert api.client.get("/health").json() == {"status": "ok"}
    assert api.client.get("/ready").json() == {"redis": True, "database": True}

    def down():
        raise ConnectionError("refused")

    monkeypatch.setattr(api.backends.queue.client, "ping", down)
    response = api.client.get("/ready")
    assert response.status_code == 503 and response.json() == {"redis": False, "database": True}


def test_metrics_are_prometheus_text_with_the_counters(api):
    post_task(api)
    run_worker(api)
    text = api.client.get("/metrics").text
    assert 'workshop_tasks{state="completed"} 1.0' in text
    assert "workshop_claims_total 1.0" in text
    assert "workshop_completions_total 1.0" in text
    assert "workshop_recovery_latency_seconds_bucket" in text


def test_the_dashboard_placeholder_and_static_files_are_served(api):
    page = api.client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert api.client.get("/static/index.html").status_code == 200
    assert api.client.get("/openapi.json").json()["paths"]["/tasks"]["post"]


# --- the token ------------------------------------------------------------------------


@pytest.fixture
def token_api(api_config):
    from fastapi.testclient import TestClient

    from session6_api.app import create_app

    app = create_app(api_config.replace(api_token="s3cret"))
    try:
        with TestClient(app) as client:
            yield client
    finally:
        app.state.backends.store.drop_schema()


def test_with_api_token_changes_need_the_bearer_token(token_api):
    denied = token_api.post("/tasks", json={"image": SAMPLE})
    assert denied.status_code == 401 and denied.headers["WWW-Authenticate"] == "Bearer"
    wrong = token_api.post("/tasks", json={"image": SAMPLE},
                           headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401
    assert token_api.delete("/dlq").status_code == 401
    assert token_api.post("/queue/pause").status_code == 401
    ok = token_api.post("/tasks", json={"image": SAMPLE},
                        headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 202
    assert token_api.get("/stats").status_code == 200  # reading needs no token
