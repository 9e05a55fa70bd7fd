"""Redis comes back empty, and the event follower falls behind the capped stream.

Against a private redis-server (restarted without persistence: it comes back
empty) and a SQLite file. Before: the 50 relayed rows stayed ``pending`` with
Redis knowing none of them, and the paused queue came back running; a follower
behind a trimmed stream reconciled at most 1,000 rows once (200 of 1,200 stayed
``pending``), and missed a trim between its gap check and its read.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from session6_api.app import create_app
from session6_api.config import ApiConfig
from session6_api.conftest import TEST_HOSTS

pytestmark = [pytest.mark.redis, pytest.mark.chaos]
SAMPLE = "photo_grace_hopper.jpg"


def make_app(private_redis, tmp_path):
    config = ApiConfig(redis_url=private_redis.url, database_url=f"sqlite:///{tmp_path / 't.db'}",
                       queue_name="lost", data_dir=tmp_path / "data", background=False,
                       allowed_hosts=TEST_HOSTS)
    return create_app(config)


def drain_relay(backends) -> None:
    while backends.relay.run_once():
        pass


def settle(backends) -> None:
    while backends.sync.run_once():
        pass


def complete(queue, count: int) -> list[str]:
    """A worker's job, done by hand: claim ``count`` tasks and complete them (in claims of
    at most 1,000, the most one claim may ask for)."""
    done: list[str] = []
    while len(done) < count:
        claimed = queue.get_tasks("worker-1", min(1000, count - len(done)), timeout=0)
        if not claimed:
            break
        for task in claimed:
            assert queue.mark_completed(task.id, {"ok": True}, worker_id="worker-1")
            done.append(task.id)
    return done


def test_redis_back_empty_gets_every_unfinished_row_again_and_the_pause(private_redis, tmp_path,
                                                                         caplog):
    app = make_app(private_redis, tmp_path)
    backends = app.state.backends
    with TestClient(app) as client:
        ids = [client.post("/tasks", json={"image": SAMPLE}).json()["id"] for _ in range(50)]
        drain_relay(backends)
        assert backends.recovery.run_once() is None  # the epoch, seen for the first time
        finished = complete(backends.queue, 10)
        settle(backends)
        assert client.post("/queue/pause").json() == {"paused": True}

        private_redis.restart_empty()
        assert backends.queue.get_stats()["total"] == 0
        with caplog.at_level(logging.WARNING):
            assert backends.recovery.run_once() == 40
        drain_relay(backends)
        settle(backends)

        unfinished = set(ids) - set(finished)
        in_redis = {task_id for task_id in ids if backends.queue.get_task_info(task_id)}
        assert in_redis == unfinished  # the 40, under their own ids; the 10 done stay done
        assert backends.queue.get_stats()["pending"] == 40
        assert backends.queue.is_paused()
        assert "re-sending 40 unfinished tasks" in caplog.text
        assert "paused again" in caplog.text
        state = client.get("/dashboard/state").json()
        assert state["data_lost"]["resent"] == 40 and state["data_lost"]["paused_again"]
        rows = Counter(client.get(f"/tasks/{i}").json()["status"] for i in ids)
        assert rows == {"pending": 40, "completed": 10}
        # The next look finds the new epoch: nothing is sent a second time.
        assert backends.recovery.run_once() is None
        assert backends.store.unsent_count() == 0


def test_a_loss_while_the_api_was_stopped_is_noticed_when_it_starts(private_redis, tmp_path):
    app = make_app(private_redis, tmp_path)
    with TestClient(app) as client:
        for _ in range(5):
            client.post("/tasks", json={"image": SAMPLE})
        drain_relay(app.state.backends)
        app.state.backends.recovery.run_once()
    private_redis.restart_empty()
    again = make_app(private_redis, tmp_path)
    with TestClient(again):
        assert again.state.backends.recovery.run_once() == 5


def test_a_follower_far_behind_the_capped_stream_settles_every_row(private_redis, tmp_path):
    """1,200 tasks complete while the follower is stopped and the stream is trimmed to
    nothing: every row must end ``completed`` (the old reconciliation stopped at 1,000)."""
    app = make_app(private_redis, tmp_path)
    backends = app.state.backends
    with TestClient(app) as client:
        for _ in range(1200):
            assert client.post("/tasks", json={"image": SAMPLE}).status_code == 202
        drain_relay(backends)
        settle(backends)
        assert len(complete(backends.queue, 1200)) == 1200
        with private_redis.client() as raw:
            raw.xtrim(backends.queue.keys.events, maxlen=0)  # the cap, taken to the extreme
        settle(backends)
        assert backends.store.counts()["completed"] == 1200
        assert backends.store.counts()["pending"] == 0


def test_a_trim_between_the_gap_check_and_the_read_is_not_missed(private_redis, tmp_path,
                                                                 monkeypatch):
    app = make_app(private_redis, tmp_path)
    backends = app.state.backends
    with TestClient(app) as client:
        task_id = client.post("/tasks", json={"image": SAMPLE}).json()["id"]
        drain_relay(backends)
        settle(backends)
        complete(backends.queue, 1)
        queue_client = backends.queue.client
        real_xread = queue_client.xread

        def trimmed_just_before(streams, **kwargs):
            queue_client.xtrim(backends.queue.keys.events, maxlen=0)
            return real_xread(streams, **kwargs)

        monkeypatch.setattr(queue_client, "xread", trimmed_just_before)
        backends.sync.run_once(block_ms=10)
        assert client.get(f"/tasks/{task_id}").json()["status"] == "completed"
