"""Against a live server (``python -m session6_api serve`` in a child process):
the queue-wide SSE stream with Last-Event-ID, Ctrl-C, and a worker killed with
SIGKILL while tasks are in flight."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter

import httpx
import pytest

from session6_api.config import ApiConfig
from session6_api.services import open_queue, open_store
from session6_api.testing.livetest import LiveServer
from workshop.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.multiprocess, pytest.mark.slow]
SAMPLE = "photo_grace_hopper.jpg"


@pytest.fixture
def config(tmp_path, redis_url, queue_name, database_url, table_prefix):
    """On SQLite and on PostgreSQL: for the tests about what reaches the database."""
    config = ApiConfig(redis_url=redis_url, database_url=database_url, queue_name=queue_name,
                       data_dir=tmp_path / "data", table_prefix=table_prefix, background=False)
    yield config
    store = open_store(config)
    store.drop_schema()
    store.close()


@pytest.fixture
def sqlite_config(tmp_path, redis_url, queue_name):
    """SQLite only: for the tests about streams and processes, where the database is a bystander."""
    return ApiConfig(redis_url=redis_url, database_url=f"sqlite:///{tmp_path / 'live.db'}",
                     queue_name=queue_name, data_dir=tmp_path / "data", background=False)


def live(config: ApiConfig, workers: int) -> LiveServer:
    return LiveServer(redis_url=config.redis_url, queue_name=config.queue_name,
                      database_url=config.database_url, data_dir=config.data_dir,
                      table_prefix=config.table_prefix, workers=workers)


def read_events(response: httpx.Response, wanted: int) -> list[dict]:
    """Read SSE events from a streaming response until ``wanted`` events arrived.

    The read is bounded by the client's read timeout: a stream that goes quiet
    fails the test instead of hanging it.
    """
    events, block = [], {}
    for line in response.iter_lines():
        if line == "":
            if block:
                events.append(block)
                block = {}
                if len(events) >= wanted:
                    return events
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            block[name] = value
    return events


def worker_pids(queue) -> dict[str, int]:
    return {e.worker_id: int(e.fields["pid"]) for e in queue.events(None)
            if e.name == "worker_started"}


def test_events_stream_is_live_and_resumes_after_last_event_id(sqlite_config):
    with live(sqlite_config, workers=0) as server, httpx.Client(base_url=server.url,
                                                         timeout=30) as client:
        with client.stream("GET", "/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            first = client.post("/tasks", json={"image": SAMPLE}).json()["id"]
            (event,) = read_events(stream, 1)
        assert event["event"] == "enqueued" and json.loads(event["data"])["task"] == first
        # Two more tasks while nobody listens; a reconnect with Last-Event-ID gets exactly those.
        later = [client.post("/tasks", json={"image": SAMPLE}).json()["id"] for _ in range(2)]
        wait_until(lambda: client.get("/stats").json()["outbox_unsent"] == 0, 30,
                   "the relay to push both tasks")
        with client.stream("GET", "/events", headers={"Last-Event-ID": event["id"]}) as stream:
            resumed = read_events(stream, 2)
        assert [json.loads(e["data"])["task"] for e in resumed] == later
        assert all(e["id"] > event["id"] for e in resumed)


def test_a_task_stream_is_live_and_ends_at_the_terminal_event(sqlite_config):
    with live(sqlite_config, workers=1) as server, httpx.Client(base_url=server.url,
                                                         timeout=30) as client:
        client.post("/queue/pause")
        task_id = client.post("/tasks", json={"image": SAMPLE}).json()["id"]
        wait_until(lambda: client.get("/stats").json()["queue"]["pending"] == 1, 30,
                   "the relay to push the task")
        with client.stream("GET", f"/tasks/{task_id}/events") as stream:
            client.post("/queue/resume")
            names = [e["event"] for e in read_events(stream, 10)]  # ends before 10: stream closes
        assert names == ["enqueued", "claimed", "completed"], names


def test_wait_answers_200_with_the_finished_task_or_202_in_time(config):
    with live(config, workers=1) as server, httpx.Client(base_url=server.url,
                                                         timeout=60) as client:
        done = client.post("/tasks", params={"wait": 30}, json={"image": SAMPLE})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "completed" and done.json()["attempts"] == 1
        client.post("/queue/pause")
        try:
            waited = client.post("/tasks", params={"wait": 0.5}, json={"image": SAMPLE})
        finally:
            client.post("/queue/resume")
        assert waited.status_code == 202, waited.text
        assert waited.headers["Location"] == f"/tasks/{waited.json()['id']}"
        assert client.post("/tasks", params={"wait": 31},
                           json={"image": SAMPLE}).status_code == 422


def test_ctrl_c_stops_the_api_and_every_worker_even_with_a_stream_open(sqlite_config):
    server = live(sqlite_config, workers=2).start()
    queue = open_queue(sqlite_config)
    try:
        pids = wait_until(lambda: (p := worker_pids(queue)) and len(p) == 2 and p, 30,
                          "both workers to register")
    finally:
        queue.close()
    with httpx.Client(base_url=server.url, timeout=30) as client, \
            client.stream("GET", "/events") as stream:
        next(stream.iter_lines())  # connected: a stream that would never end by itself
        assert server.stop() == 0, server.log()[-2000:]

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie (exited, not yet reaped by its parent) is gone too.
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1].startswith("Z")

    for pid in pids.values():
        assert wait_until(lambda pid=pid: gone(pid), 30, f"worker process {pid} to exit")


def test_kill_9_of_a_worker_loses_and_doubles_nothing(config):
    """Every accepted task ends completed or dead-lettered, in Redis and in the database,
    exactly once, although a worker died holding tasks."""
    total = 16
    body = {"image": "sample_03_1024x768.jpg", "filters": ["blur:radius=6", "edges"]}
    with live(config, workers=2) as server, httpx.Client(base_url=server.url,
                                                         timeout=30) as client:
        ids = []
        for n in range(total):
            response = client.post("/tasks", json=body, headers={"Idempotency-Key": f"k{n}"})
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        queue = open_queue(config)
        try:
            busy = wait_until(lambda: [w for w in client.get("/workers").json()
                                       if w["in_flight"]], 60, "a worker holding a task")
            victim = busy[0]["worker_id"]
            os.kill(worker_pids(queue)[victim], signal.SIGKILL)

            def all_finished() -> bool:
                counts = client.get("/stats").json()["database"]
                return counts["completed"] + counts["dead_lettered"] == total

            wait_until(all_finished, 180, "every task to finish after the kill")
            rows = {i: client.get(f"/tasks/{i}").json() for i in ids}
            for task_id, row in rows.items():
                in_redis = queue.get_task_info(task_id)
                assert row["status"] in ("completed", "dead_lettered"), row
                assert str(in_redis.status) == row["status"], (task_id, row, in_redis)
                assert len(queue.locate(task_id)) == 1, queue.locate(task_id)
            assert queue.conservation().holds, str(queue.conservation())
            completions = Counter(e.task_id for e in queue.events(None) if e.name == "completed")
            assert all(n == 1 for n in completions.values()), completions
            lost = [e for e in queue.events(None) if e.name == "worker_lost"]
            assert [e.worker_id for e in lost] == [victim]
            taken_back = [e for e in queue.events(None) if e.name in ("requeued", "dead_lettered")
                          and e.worker_id == victim]
            assert taken_back, "the killed worker's task was never taken back by the reaper"
            if any(e.name == "requeued" for e in taken_back):
                metrics = client.get("/metrics").text
                count = next(line for line in metrics.splitlines()
                             if line.startswith("workshop_recovery_latency_seconds_count"))
                assert float(count.split()[-1]) >= 1, count
        finally:
            queue.clear()
            queue.close()
