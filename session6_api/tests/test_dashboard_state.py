"""What the dashboard computes, without a browser: the state from counts and the event stream,
and which events belong on a task's page."""

from __future__ import annotations

import os

import pytest

from session5_recovery.workers import Event, RecoverySettings, RedisTaskQueue
from session6_api.dashboard import EventLedger, dashboard_state, event_view, task_history


def event(n: int, name: str, **fields: str) -> Event:
    return Event(f"{1000 + n}-0", name, 1.0 + n, fields)


def test_a_task_page_shows_the_loss_of_the_worker_that_held_it_and_no_other():
    events = [
        event(1, "enqueued", task="t1"),
        event(2, "claimed", task="t1", worker="w1", attempt="1"),
        event(3, "claimed", task="t2", worker="w2", attempt="1"),
        event(4, "requeued", task="t1", worker="w1", attempt="1", reason="worker lost"),
        event(5, "worker_lost", worker="w1", tasks="1"),
        event(6, "claimed", task="t1", worker="w2", attempt="2"),
        event(7, "completed", task="t1", worker="w2", attempt="2"),
        event(8, "worker_lost", worker="w2", tasks="1"),  # died later, holding t2, not t1
    ]
    shown = [(e.name, e.worker_id) for e in task_history(events, "t1")]
    assert shown == [("enqueued", None), ("claimed", "w1"), ("requeued", "w1"),
                     ("worker_lost", "w1"), ("claimed", "w2"), ("completed", "w2")]
    assert [e.name for e in task_history(events, "t2")] == ["claimed", "worker_lost"]


def test_progress_events_of_any_producer_become_bars_and_malformed_ones_stay_plain_events():
    task = event_view(event(1, "progress", task="t1", worker="w1", done="3", total="10",
                            message="sent"))
    assert task["progress"] == {"task": "t1", "done": 3, "total": 10, "message": "sent"}
    assert task["text"] == "progress 3/10 sent"
    flow = event_view(event(2, "workflow_progress", workflow="wf-1", done="2", total="5"))
    assert flow["progress"] == {"workflow": "wf-1", "done": 2, "total": 5}
    ended = event_view(event(3, "workflow_failed", workflow="wf-1", node="n", reason="poison"))
    assert ended["progress"] == {"workflow": "wf-1", "finished": "failed", "reason": "poison"}
    for bad in ({"done": "11", "total": "10"}, {"done": "\u0663", "total": "9"},
                {"done": "1"}, {"done": "-1", "total": "3"}, {"done": "1", "total": "9" * 40}):
        assert "progress" not in event_view(event(4, "progress", task="t1", **bad))
    assert "progress" not in event_view(event(5, "progress", done="1", total="2"))  # no task


@pytest.mark.redis
def test_state_counts_workers_and_throughput_come_from_counts_and_events(redis_url, queue_name):
    queue = RedisTaskQueue.connect(redis_url, queue_name=queue_name,
                                   settings=RecoverySettings(heartbeat_ttl=5.0))
    try:
        queue.register_worker("w1")
        ids = [queue.add_task({"type": "noop"}, priority=p) for p in ("high", "low", "low")]
        claimed = queue.get_task("w1", timeout=1)
        assert claimed is not None and claimed.id == ids[0]  # the high one first
        assert queue.mark_completed(claimed.id, worker_id="w1")
        ledger = EventLedger(queue)
        state = dashboard_state(queue, ledger)
        assert state["counts"]["completed"] == 1
        assert state["counts"]["pending"] == 2
        assert state["pending_by_priority"] == {"high": 0, "normal": 0, "low": 2}
        (worker,) = state["workers"]
        assert worker["worker_id"] == "w1" and worker["state"] == "alive"
        assert worker["pid"] == os.getpid() and worker["done"] == 1
        assert 0 <= worker["heartbeat_age"] <= 5.0 and worker["ttl"] == 5.0
        assert sum(state["throughput"]) == 1
        # A second look reads only what is new: the same completion is not counted twice.
        again = queue.get_task("w1", timeout=1)
        assert again is not None and queue.mark_completed(again.id, worker_id="w1")
        state = dashboard_state(queue, ledger)
        assert state["workers"][0]["done"] == 2 and sum(state["throughput"]) == 2
    finally:
        queue.clear()
        queue.close()


def test_no_chromium_is_reported_as_none_so_the_browser_tests_can_say_how_to_get_it(
        monkeypatch, tmp_path):
    from session6_api.testing.dashboard_testing import HOW_TO_GET_CHROMIUM, chromium_path

    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "no-such-browser"))
    assert chromium_path() is None
    assert "apt-get install chromium" in HOW_TO_GET_CHROMIUM
    browser = tmp_path / "chromium"
    browser.write_text("")
    monkeypatch.setenv("CHROMIUM_PATH", str(browser))
    assert chromium_path() == str(browser)
