"""A worker killed between recording a task's outcome and queueing its webhook: the
notification is still delivered, exactly once.

The kill is simulated at exactly that point: ``OperationsWorker.notify`` (the step
after the outcome is recorded) raises ``Killed``, a BaseException nothing in the worker
catches, as a SIGKILL would stop it there. Two ledgers count: the queue's own event
stream (one ``enqueued`` per delivery task) and a ``webhook`` handler that INCRs per
delivery id when it runs.
"""

from __future__ import annotations

import pytest

from session5_recovery.workers import HandlerRegistry, PermanentTaskError, RecoverySettings
from session9_operations.operations_queue import OperationsQueue
from session9_operations.outbox import owe_notification, owed
from session9_operations.webhooks import ALLOWED_HOSTS_ENV, DELIVERY_TYPE, delivery_id_for
from session9_operations.worker import OperationsWorker

pytestmark = pytest.mark.redis
HOOK = "http://127.0.0.1:17801/hook"


class Killed(BaseException):
    """The worker process dies here (nothing after this line of its runs)."""


class KilledBeforeNotifying(OperationsWorker):
    def notify(self, task, outcome):
        raise Killed


class SweptBeforeNotifying(OperationsWorker):
    """Another worker's sweep runs while this one is between the two steps."""

    def notify(self, task, outcome):
        self.queue.maintain()
        super().notify(task, outcome)


@pytest.fixture
def queue(redis_client, queue_name, monkeypatch):
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "127.0.0.1")
    settings = RecoverySettings(heartbeat_interval=1, heartbeat_ttl=5, max_attempts=1)
    return OperationsQueue(client=redis_client, queue_name=queue_name, settings=settings)


@pytest.fixture
def registry(queue):
    registry = HandlerRegistry()
    ledger = f"{queue.keys.prefix}test:deliveries"

    @registry.register("ok")
    def ok(data, context):
        return {"ok": True}

    @registry.register("fails")
    def fails(data, context):
        raise PermanentTaskError("fails for good")

    @registry.register(DELIVERY_TYPE)
    def deliver(data, context):  # stands in for the POST: counts each delivery run
        queue.client.hincrby(ledger, data["delivery_id"], 1)
        return {"delivered": True}

    registry.ledger = ledger
    return registry


def add_the_tasks(queue):
    return {"completed": queue.add_task({"type": "ok", "webhook_url": HOOK}),
            "dead_lettered": queue.add_task({"type": "fails", "webhook_url": HOOK}),
            "no webhook": queue.add_task({"type": "ok"})}


def run_each_claimed(queue, worker, ids):
    """Claim and run tasks one by one, as the worker's loop would, until none is pending;
    the outcome of each of ``ids`` (deliveries queued meanwhile run too, in between)."""
    queue.register_worker(worker.worker_id)
    outcomes = {}
    while (task := queue.get_task(worker.worker_id, timeout=0)) is not None:
        try:
            outcomes[task.id] = worker.process(task)
        except Killed:
            outcomes[task.id] = "killed"
    return [outcomes[i] for i in ids.values()]


def delivery_tasks_queued(queue) -> dict[str, int]:
    """The first ledger: ``enqueued`` events of delivery tasks, per delivery id."""
    counts: dict[str, int] = {}
    for event in queue.events(None):
        if event.name == "enqueued" and (event.task_id or "").startswith("whk-"):
            counts[event.task_id] = counts.get(event.task_id, 0) + 1
    return counts


def deliveries_run(queue, registry) -> dict[str, int]:
    """The second ledger: delivery runs per delivery id, after a worker drained the queue."""
    OperationsWorker("drainer", queue, handlers=registry, log=None).start(
        burst=True, handle_signals=False)
    return {k: int(v) for k, v in queue.client.hgetall(registry.ledger).items()}


def test_a_worker_killed_after_the_outcome_loses_no_webhook(queue, registry):
    ids = add_the_tasks(queue)
    worker = KilledBeforeNotifying("w1", queue, handlers=registry, log=None)
    assert run_each_claimed(queue, worker, ids) == ["killed", "killed", "completed"]
    finished = [ids["completed"], ids["dead_lettered"]]
    assert [str(queue.get_task_info(i).status) for i in finished] == ["completed", "dead_lettered"]
    assert delivery_tasks_queued(queue) == {}, "the kill landed before any delivery was queued"
    assert owed(queue) == sorted(finished), "but both notifications were written down as owed"

    queue.maintain()  # any worker's heartbeat thread runs this every beat
    queue.maintain()  # and again: nothing more is queued
    expected = {delivery_id_for(i): 1 for i in finished}
    assert delivery_tasks_queued(queue) == expected
    assert owed(queue) == []
    payloads = {queue.get_task_info(delivery_id_for(i)).data["payload"]["status"] for i in finished}
    assert payloads == {"completed", "dead_lettered"}
    assert deliveries_run(queue, registry) == expected


def test_a_sweep_racing_the_worker_queues_one_delivery(queue, registry):
    ids = add_the_tasks(queue)
    worker = SweptBeforeNotifying("w1", queue, handlers=registry, log=None)
    assert run_each_claimed(queue, worker, ids) == ["completed", "dead_lettered", "completed"]
    expected = {delivery_id_for(ids["completed"]): 1, delivery_id_for(ids["dead_lettered"]): 1}
    assert delivery_tasks_queued(queue) == expected, "the worker's second try was refused"
    assert owed(queue) == []
    assert deliveries_run(queue, registry) == expected


def test_without_a_kill_the_outbox_is_settled_at_once(queue, registry):
    ids = add_the_tasks(queue)
    worker = OperationsWorker("w1", queue, handlers=registry, log=None)
    assert run_each_claimed(queue, worker, ids) == ["completed", "dead_lettered", "completed"]
    assert owed(queue) == []
    assert delivery_tasks_queued(queue) == {delivery_id_for(ids["completed"]): 1,
                                           delivery_id_for(ids["dead_lettered"]): 1}


def test_an_unfinished_task_keeps_its_entry_and_a_vanished_one_loses_it(queue):
    task_id = queue.add_task({"type": "ok", "webhook_url": HOOK})
    queue.register_worker("w1")
    assert queue.get_task("w1", timeout=0).id == task_id
    owe_notification(queue, [task_id, "vanished"])
    queue.maintain()
    assert owed(queue) == [task_id], "still running: its worker will settle it"
    assert delivery_tasks_queued(queue) == {}
