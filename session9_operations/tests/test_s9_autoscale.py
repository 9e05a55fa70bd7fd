"""Autoscaling: the pure decision with a fake clock, then a real burst of tasks."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
import redis

from session5_recovery.workers import RecoverySettings, RedisTaskQueue
from session5_recovery.workers.redis_task_queue import TEXT_REPLIES
from session9_operations.autoscale import (
    Autoscaler,
    ScalePolicy,
    ScaleState,
    Signals,
    decide,
    read_signals,
)
from session9_operations.handlers import HANDLERS, LEDGER_ENV, read_ledger
from session9_operations.process_entry import OperationsFleet
from workshop.waiting import wait_until

POLICY = ScalePolicy(min_workers=1, max_workers=8, tasks_per_worker=10, max_age=30, cooldown=60)


def signals(backlog=0, age=0.0, workers=1, busy=0, prefetched=0):
    return Signals(backlog, age, workers, busy, prefetched)


class TestDecide:
    def test_scales_up_with_the_backlog_at_once(self):
        state = ScaleState(last_change=100.0)
        assert decide(signals(backlog=45), POLICY, state, now=100.5).target == 5

    def test_never_above_max_nor_below_min(self):
        assert decide(signals(backlog=10_000), POLICY, ScaleState(), 0).target == 8
        assert decide(signals(workers=3), POLICY, ScaleState(), 0).target == 1

    def test_an_old_task_adds_a_worker_even_with_a_small_backlog(self):
        decision = decide(signals(backlog=2, age=31, workers=2, busy=2), POLICY, ScaleState(), 0)
        assert decision.target == 3 and "waited" in decision.reason

    def test_scales_down_only_after_the_cooldown(self):
        state = ScaleState(last_change=1_000.0)
        assert decide(signals(workers=5), POLICY, state, now=1_059.9).target == 5
        assert decide(signals(workers=5), POLICY, state, now=1_060.0).target == 1

    def test_never_stops_a_busy_worker(self):
        decision = decide(signals(workers=6, busy=4), POLICY, ScaleState(), now=1e6)
        assert decision.target == 4

    def test_prefetched_tasks_are_hidden_unless_counted(self):
        hidden = signals(backlog=0, workers=1, busy=1, prefetched=49)
        assert decide(hidden, POLICY, ScaleState(), 0).target == 1
        counted = ScalePolicy(**{**POLICY.__dict__, "count_prefetched": True})
        assert decide(hidden, counted, ScaleState(), 0).target == 5

    @pytest.mark.parametrize("bad", [{"min_workers": -1}, {"min_workers": 3, "max_workers": 2},
                                     {"max_workers": 0}])
    def test_bad_bounds_are_one_clear_line(self, bad):
        with pytest.raises(ValueError, match="--m"):
            ScalePolicy(**bad)


@pytest.mark.redis
def test_a_prefetching_worker_hides_the_backlog(redis_client, queue_name):
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name)
    queue.add_tasks([{"type": "noop"} for _ in range(50)])
    queue.register_worker("greedy")
    queue.get_tasks("greedy", 50, timeout=0)  # the claim of RedisWorker(prefetch=50)
    seen, _ = read_signals(queue, now=0)
    assert (seen.backlog, seen.prefetched) == (0, 49)
    assert decide(seen, POLICY, ScaleState(), 0).target == 1  # nothing to scale for...
    counted = ScalePolicy(**{**POLICY.__dict__, "count_prefetched": True})
    assert decide(seen, counted, ScaleState(), 0).target == 5  # ...unless held work counts


def read_signals_one_by_one(queue, now):
    """The signals as they were read before: one question to Redis at a time (the reference)."""
    oldest = 0.0
    for priority_list in (queue.keys.pending_high, queue.keys.pending, queue.keys.pending_low):
        task_id = queue.client.lindex(priority_list, -1)
        task = queue.get_task_info(task_id) if task_id else None
        if task is not None and task.created_at is not None:
            oldest = max(oldest, now - task.created_at)
    live = [w for w in queue.workers() if w.alive]
    return Signals(queue.get_stats()["pending"], oldest, len(live),
                   sum(1 for w in live if w.in_flight),
                   sum(max(0, len(w.in_flight) - 1) for w in live)), live


def counting_round_trips(redis_url):
    """A client that counts its round trips: each command, or each pipeline, is one write."""
    client = redis.Redis.from_url(redis_url, **TEXT_REPLIES)
    sent: list[bytes] = []
    base = client.connection_pool.connection_class

    class CountingConnection(base):
        def send_packed_command(self, command, check_health=True):
            sent.append(command)
            return super().send_packed_command(command, check_health)

    client.connection_pool.connection_class = CountingConnection
    return client, sent


@pytest.mark.redis
def test_the_signals_are_read_in_two_round_trips_with_the_same_values(redis_url, queue_name,
                                                                       fake_clock):
    client, sent = counting_round_trips(redis_url)
    queue = RedisTaskQueue(client=client, queue_name=queue_name,
                           settings=RecoverySettings(heartbeat_ttl=30, clock=fake_clock))
    queue.add_tasks([{"type": "noop"} for _ in range(3)], priority="low")
    fake_clock.advance(40)
    queue.add_tasks([{"type": "noop"} for _ in range(4)])
    fake_clock.advance(15)
    queue.add_tasks([{"type": "noop"} for _ in range(2)], priority="high")
    for worker in ("busy", "idle", "gone"):
        queue.register_worker(worker)
    queue.get_tasks("busy", 3, timeout=0)  # the high ones, and the oldest normal one
    client.delete(queue.keys.heartbeat("gone"))  # its heartbeat expired
    client.rpush(queue.keys.pending_low, "no-such-task")  # an id without its hash: no age
    now = fake_clock() + 7

    expected, expected_live = read_signals_one_by_one(queue, now)
    read_signals(queue, now)  # the connection is opened (and says hello) outside the count
    sent.clear()
    seen, live = read_signals(queue, now)
    round_trips = len(sent)

    assert round_trips <= 2, "one look at the queue, at most two round trips"
    assert seen == expected
    # The low list's claim end holds an id without a hash: the normal list's is the oldest.
    assert (seen.backlog, seen.workers, seen.busy, seen.prefetched) == (7, 2, 1, 2)
    assert seen.oldest_age == pytest.approx(22.0)
    assert ([(w.worker_id, w.last_seen, w.in_flight) for w in live]
            == [(w.worker_id, w.last_seen, w.in_flight) for w in expected_live])
    assert all(0 < w.ttl_left <= 30 for w in live)
    client.close()


FAST = RecoverySettings(heartbeat_interval=0.2, heartbeat_ttl=2.0, reap_interval=0.1,
                        claim_timeout=0.2)


@pytest.mark.redis
@pytest.mark.multiprocess
@pytest.mark.slow
def test_a_burst_scales_up_drains_and_returns_to_the_minimum(redis_url, redis_client, queue_name,
                                                              tmp_path, monkeypatch):
    ledger = tmp_path / "ledger.txt"
    monkeypatch.setenv(LEDGER_ENV, str(ledger))
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name, settings=FAST)
    policy = ScalePolicy(min_workers=1, max_workers=4, tasks_per_worker=25, max_age=5, cooldown=1.0)
    ids = queue.add_tasks([{"type": "ledger", "seconds": 0.03} for _ in range(200)])
    fleet = OperationsFleet(redis_url, queue_name, settings=FAST, handlers=HANDLERS, burst=False)
    scaler = Autoscaler(queue, fleet, policy)
    try:
        fleet.start(policy.min_workers)
        peak = 0
        for _ in range(600):  # ticks of 0.1 s at most; each tick may also start workers
            scaler.tick()
            peak = max(peak, scaler.timeline[-1].workers)
            drained = queue.get_stats()["pending"] == 0 and queue.is_drained()
            if drained and len(fleet.alive()) == policy.min_workers:
                break
            time.sleep(0.1)
    finally:
        fleet.stop()
    runs = Counter(row.task_id for row in read_ledger(ledger))
    assert set(runs) == set(ids), "no task lost"
    assert max(runs.values()) == 1, "no task ran twice"
    assert peak == policy.max_workers, f"the burst should reach {policy.max_workers} workers"
    assert len([p for p in fleet.processes.values() if p.exitcode not in (0, None)]) == 0
    timeline = [(round(s.at - scaler.timeline[0].at, 1), s.workers, s.backlog)
                for s in scaler.timeline]
    changes = [t for i, t in enumerate(timeline) if i == 0 or t[1] != timeline[i - 1][1]]
    print(json.dumps({"tasks": len(ids), "peak": peak, "changes": changes,
                      "final_workers": timeline[-1][1], "seconds": timeline[-1][0]}))


@pytest.mark.redis
@pytest.mark.multiprocess
@pytest.mark.slow
def test_the_fleets_workers_honour_the_rate_limits(redis_url, redis_client, queue_name, tmp_path,
                                                  monkeypatch):
    from session9_operations.ratelimit import RateLimit, RateLimiter

    ledger = tmp_path / "ledger.txt"
    monkeypatch.setenv(LEDGER_ENV, str(ledger))
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name, settings=FAST)
    RateLimiter(queue).set("ledger", RateLimit(3, 600.0))
    queue.add_tasks([{"type": "ledger"} for _ in range(6)])
    with OperationsFleet(redis_url, queue_name, settings=FAST, handlers=HANDLERS) as fleet:
        fleet.start(2)
        wait_until(lambda: queue.get_stats()["delayed"] == 3 and queue.get_stats()["pending"] == 0
                   and queue.get_stats()["completed"] == 3, timeout=30,
                   what="three tasks run and three waiting for the window")
    assert len(read_ledger(ledger)) == 3
