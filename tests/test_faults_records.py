"""Task records written by hand: wrong field types and finished ids pushed again.

Each malformed hash goes to the DLQ with a reason naming the field, the worker
keeps running, the good task after it completes, and ``dlq list`` still lists
everything (one unreadable record does not hide the others). A completed task's id
pushed into pending again is refused, not run a second time.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from _chaos_helpers import record_figures

from session5_recovery.tools.cli import main
from session5_recovery.workers import RecoverySettings, RedisTaskQueue, RedisWorker, TaskStatus

pytestmark = pytest.mark.redis

FAST = dict(heartbeat_interval=0.1, heartbeat_ttl=1.0, reap_interval=0.1, claim_timeout=0.1)
DEEP = "[" * 10_000 + "]" * 10_000

MALFORMED = {  # name -> (fields written over a good task's, the field the reason names)
    "attempts-abc": ({"attempts": "abc"}, "'attempts'"),
    "max-attempts-2.5": ({"max_attempts": "2.5"}, "'max_attempts'"),
    "history-x": ({"history": "x"}, "'history'"),
    "data-nested-10000-deep": ({"data": '{"a": ' + DEEP + "}"}, "'data'"),
}


@pytest.fixture
def queue(redis_client, queue_name) -> RedisTaskQueue:
    return RedisTaskQueue(client=redis_client, queue_name=queue_name,
                          settings=RecoverySettings(**FAST))


def write_by_hand(queue: RedisTaskQueue, changes: dict[str, str]) -> str:
    """A task hash as redis-cli would write it: the normal fields, some of them wrong."""
    task_id = uuid.uuid4().hex
    fields = {"id": task_id, "type": "noop", "data": '{"type": "noop"}', "status": "pending",
              "attempts": "0", "max_attempts": "3", "created_at": repr(time.time()),
              "history": "0", **changes}
    queue.client.hset(queue.keys.task(task_id), mapping=fields)
    queue.client.sadd(queue.keys.tasks, task_id)
    queue.client.lpush(queue.keys.pending, task_id)
    return task_id


def run_burst(queue: RedisTaskQueue) -> RedisWorker:
    worker = RedisWorker("w1", queue, log=None)
    worker.start(burst=True, handle_signals=False)
    return worker


def test_malformed_records_go_to_the_dlq_naming_the_field_and_the_worker_survives(queue, redis_url,
                                                                                   capsys):
    bad = {name: write_by_hand(queue, changes) for name, (changes, _) in MALFORMED.items()}
    good = queue.add_task({"type": "noop"})
    worker = run_burst(queue)  # before the fix, the first bad hash killed the worker
    for name, (_, field) in MALFORMED.items():
        reason = queue.client.hget(queue.keys.task(bad[name]), "reason") or ""
        assert f"malformed task record: field {field}" in reason, (name, reason)
        assert queue.locate(bad[name]) == ["dead_lettered"], name
    assert queue.get_task_info(good).status is TaskStatus.COMPLETED
    assert worker.counts.completed == 1
    conservation = queue.conservation()
    assert conservation.holds, str(conservation)

    # A DLQ entry broken by hand after the fact must not hide the others.
    queue.client.hset(queue.keys.task(bad["attempts-abc"]), "attempts", "still-abc")
    capsys.readouterr()
    assert main(["dlq", "list", "--json", "--queue", queue.queue_name,
                 "--redis-url", redis_url]) == 0
    listed = {t["id"]: t for t in json.loads(capsys.readouterr().out)}
    assert set(listed) == set(bad.values()), "every dead-lettered task is listed"
    assert "unreadable task record" in listed[bad["attempts-abc"]]["reason"]
    record_figures("malformed-records", {
        "accepted": len(bad) + 1, "completed": conservation.completed,
        "dead_lettered": conservation.dead_lettered, "lost": 0 if conservation.holds else 1,
        "worker_deaths": 0})


def test_a_completed_task_pushed_into_pending_again_is_refused_and_recorded(queue):
    task_id = queue.add_task({"type": "noop"})
    run_burst(queue)
    assert queue.get_task_info(task_id).status is TaskStatus.COMPLETED
    queue.client.lpush(queue.keys.pending, task_id)  # by hand, or a buggy producer
    worker = run_burst(queue)
    assert worker.counts.completed == 0, "it did not run a second time"
    task = queue.get_task_info(task_id)
    assert task.status is TaskStatus.COMPLETED and task.attempts == 1
    assert queue.locate(task_id) == ["completed"]
    refused = [e for e in queue.events(None) if e.name == "claim_refused"]
    assert [(e.task_id, e.fields["status"]) for e in refused] == [(task_id, "completed")]
    completions = [e for e in queue.events(None) if e.name == "completed"]
    record_figures("completed-id-pushed-again", {
        "accepted": 1, "completed": 1, "run_twice": len(completions) - 1, "refused": len(refused)})
    assert len(completions) == 1
