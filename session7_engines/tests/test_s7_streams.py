"""Our Streams consumer group, step by step, on the real Redis (no worker processes).

``min_idle_ms=0`` makes every pending entry "stale" at once, so the reaper can be
driven by hand: no sleeping, no clock.
"""

from __future__ import annotations

import pytest

from session7_engines.streams import StreamQueue, run_worker

pytestmark = pytest.mark.redis


@pytest.fixture
def client(redis_target):
    client = redis_target.client(decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def streams(client, queue_name):
    return StreamQueue(client, queue_name, min_idle_ms=0, max_deliveries=2)


def test_each_new_entry_goes_to_one_consumer(streams):
    streams.add("t1", {"type": "noop"})
    first = streams.claim("a", block_ms=10)
    assert first is not None and first.task_id == "t1" and first.deliveries == 1
    streams.min_idle_ms = 60_000  # nothing is stale now: b must not get t1
    assert streams.claim("b", block_ms=10) is None


def test_the_reaper_takes_a_silent_consumers_entry_and_counts_the_delivery(streams):
    streams.add("t1", {"type": "noop"})
    streams.claim("dead", block_ms=10)
    taken = streams.claim("alive", block_ms=10)
    assert taken is not None and taken.task_id == "t1"
    assert taken.deliveries == 2, "XAUTOCLAIM counts a delivery: the attempt number"


def test_xack_is_not_fenced_but_our_complete_is(streams, client):
    """The old owner's bare XACK succeeds after the reaper moved the entry: hence the fence."""
    streams.add("t1", {"type": "noop"})
    old = streams.claim("old", block_ms=10)
    new = streams.claim("new", block_ms=10)  # reaped: the entry is "new"'s now
    assert new is not None and new.entry_id == old.entry_id
    assert streams.complete(old, "old") is False, "the fenced ack must refuse a former owner"
    assert client.llen(streams.done) == 0
    # A bare XACK from the old owner is accepted, and would silently finish new's work:
    assert client.xack(streams.stream, streams.group, old.entry_id) == 1
    assert streams.complete(new, "new") is False, "nothing is pending any more"


def test_past_max_deliveries_an_entry_goes_to_the_dead_letter_stream(streams, client):
    streams.add("poison", {"type": "crash"})
    assert streams.claim("w1", block_ms=10).deliveries == 1
    assert streams.claim("w2", block_ms=10).deliveries == 2
    assert streams.claim("w3", block_ms=10) is None, "a third delivery is past max_deliveries"
    (entry_id, fields), = client.xrange(streams.dead)
    assert fields["task_id"] == "poison" and "delivered 3 times" in fields["info"]
    assert client.xpending(streams.stream, streams.group)["pending"] == 0


def test_a_failed_attempt_stays_pending_and_a_permanent_error_is_dead_lettered(streams, client):
    streams.add("flaky", {"n": 1})
    streams.add("bad", {"n": 2})
    calls = []

    def handler(task_id, data):
        calls.append(task_id)
        if task_id == "bad":
            raise ValueError("no such filter 'blurr'")
        if calls.count("flaky") == 1:
            raise RuntimeError("network hiccup")

    run_worker(streams, "w", handler, burst=True)
    assert calls.count("flaky") == 2, f"retried once via the reaper: {calls}"
    assert client.lrange(streams.done, 0, -1) == ["flaky"]
    (_, fields), = client.xrange(streams.dead)
    assert fields["task_id"] == "bad" and "no such filter" in fields["info"]
