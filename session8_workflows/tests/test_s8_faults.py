"""Faults, with real processes: schedulers killed while they lead, workers killed mid-chord.

Figures go to ``output/chaos/<name>.json``. The scheduler test runs about 16 s;
``S8_FAILOVER_SECONDS=120`` runs the two-minute version (or the demo:
``python session8_workflows/demos/demo_scheduler_failover.py --seconds 120``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import time

import pytest

from session5_recovery.workers import RecoverySettings
from session8_workflows import WorkflowFleet, WorkflowQueue, chord, group
from session8_workflows.demos.demo_scheduler_failover import run_failover
from session8_workflows.handlers import ledger_key
from workshop.paths import OUTPUT_DIR
from workshop.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.multiprocess, pytest.mark.chaos]

# Live workers get a TTL that a busy machine's late heartbeat cannot miss (a false
# death would add a run the fault model does not allow for); a killed one is reaped
# within that TTL.
SETTINGS = RecoverySettings(heartbeat_interval=0.25, heartbeat_ttl=3.0, reap_interval=0.25,
                            max_attempts=10, backoff_base=0.1, backoff_cap=0.2)


def record(name: str, figures: dict) -> None:
    print(f"\nFIGURES {name}: {json.dumps(figures, sort_keys=True)}")
    folder = OUTPUT_DIR / "chaos"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def test_three_schedulers_with_the_leader_killed_fire_every_due_time_once(redis_url, queue_name):
    seconds = float(os.environ.get("S8_FAILOVER_SECONDS", "14"))
    figures = run_failover(redis_url, queue_name, seconds, kill_every=3.0, say=lambda _: None)
    record("s8_scheduler_failover", figures)
    assert figures["kills"] >= 2, f"the leader was killed too rarely to test anything: {figures}"
    assert figures["due"] >= seconds - 4, f"the schedule barely ran: {figures}"
    assert figures["doubled"] == 0 and figures["extra"] == 0, f"a due time fired twice: {figures}"
    assert figures["missed"] == 0, f"a due time was never fired: {figures}"


@pytest.fixture
def fleet(redis_url, queue_name):
    with WorkflowFleet(redis_url, queue_name, settings=SETTINGS, start_method="fork") as fleet:
        yield fleet


@pytest.fixture
def wf_queue(redis_client, queue_name):
    return WorkflowQueue(client=redis_client, queue_name=queue_name, settings=SETTINGS)


def test_a_chord_of_50_on_three_workers_killed_at_random(wf_queue, fleet):
    queue = wf_queue
    ledger = ledger_key(queue, "chord")
    children = [{"type": "record", "value": i, "ledger": "chord", "sleep": 0.1} for i in range(50)]
    wid = queue.workflows.start(chord(group(children), {"type": "record", "value": "callback",
                                                        "ledger": "chord"}))
    callback_id = queue.workflows.task_id(wid, "50")
    results = queue.s8.results(wid)
    fleet.start(3)
    rng = random.Random(8)
    kills, kills_after_children = 0, 0
    deadline = time.monotonic() + 90
    while queue.workflows.state(wid) == "running" and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.4, 0.9))
        fleet.replace_dead()
        if kills < 4 and queue.client.hlen(results) < 50:
            victim = rng.choice(fleet.alive())
            fleet.kill(victim)
            kills += 1
            kills_after_children += queue.client.hlen(results) >= 50  # it may have hit the callback
    fleet.replace_dead()
    assert queue.workflows.state(wid) == "completed", (
        f"the chord did not finish within 90 s: {queue.workflows.view(wid)}")
    runs = {k: int(v) for k, v in queue.client.hgetall(ledger).items()}
    child_runs = [runs.get(queue.workflows.task_id(wid, str(i)), 0) for i in range(50)]
    record("s8_chord_chaos", {"children": 50, "workers": 3, "kills": kills,
                              "child_runs": sum(child_runs), "children_run_twice":
                              sum(1 for n in child_runs if n > 1),
                              "callback_runs": runs.get(callback_id, 0)})
    assert min(child_runs) >= 1, f"a child never ran: {child_runs}"
    assert sum(child_runs) <= 50 + kills, f"more reruns than kills: {child_runs} ({kills} kills)"
    assert runs[callback_id] <= 1 + kills_after_children
    if kills_after_children == 0:
        assert runs[callback_id] == 1, "the callback ran more than once with no fault on it"
    assert queue.get_result(callback_id)["values"] == list(range(50))


def test_a_poison_child_ends_its_workflow_with_the_reason(redis_client, queue_name, fleet):
    # The first tasks are enqueued by start(), with this queue's limit of 2 attempts.
    queue = WorkflowQueue(client=redis_client, queue_name=queue_name,
                          settings=dataclasses.replace(SETTINGS, max_attempts=2))
    poison = {"type": "crash"}  # kills whatever worker runs it
    wid = queue.workflows.start(chord(group([{"type": "record", "value": 1}, poison]),
                                      {"type": "record", "value": "cb"}), on_failure="fail")
    fleet.start(2)

    def finished():
        fleet.replace_dead()
        return queue.workflows.state(wid) != "running"

    wait_until(finished, 60, "the workflow to end after its poison child was dead-lettered",
               every=0.1)
    view = queue.workflows.view(wid)
    assert view.state == "failed"
    assert view.reason.startswith(f"task 1 ({wid}.1) failed: ") and "worker was lost" in view.reason
    assert queue.task_status(queue.workflows.task_id(wid, "2")) is None, "the callback ran"
