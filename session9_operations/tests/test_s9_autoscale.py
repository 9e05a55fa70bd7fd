"""Autoscaling: the pure decision with a fake clock, then a real burst of tasks."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from session5_recovery.workers import RecoverySettings, RedisTaskQueue
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
