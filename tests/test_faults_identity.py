"""Two live processes with one worker id: the second is refused, and a late clash is noticed.

Each RedisWorker draws its own instance token (instance.py), as each process does.
Figures: tasks accepted, completed, completed twice.
"""

from __future__ import annotations

import threading

import pytest
from _chaos_helpers import record_figures

from session5_recovery.workers import RecoverySettings, RedisTaskQueue, RedisWorker
from session5_recovery.workers.instance import WorkerIdInUseError
from workshop.waiting import wait_until

pytestmark = pytest.mark.redis

FAST = dict(heartbeat_interval=0.1, heartbeat_ttl=1.0, reap_interval=0.1, claim_timeout=0.1)
DEADLINE = 30


class Log(list):
    def __call__(self, line: str) -> None:
        self.append(line)

    def has(self, words: str) -> bool:
        return any(words in line for line in list(self))


@pytest.fixture
def make_queue(redis_target, queue_name):
    made = []

    def make() -> RedisTaskQueue:  # one connection each, like separate processes
        queue = RedisTaskQueue(client=redis_target.client(decode_responses=True),
                               queue_name=queue_name, settings=RecoverySettings(**FAST))
        made.append(queue)
        return queue
    yield make
    for queue in made:
        queue.client.close()


def start_in_thread(worker: RedisWorker) -> threading.Thread:
    thread = threading.Thread(target=worker.start,
                              kwargs={"burst": False, "handle_signals": False})
    thread.start()
    return thread


def test_a_second_live_process_with_the_same_worker_id_is_refused(make_queue):
    first_queue, second_queue = make_queue(), make_queue()
    first = RedisWorker("same", first_queue, log=None)
    thread = start_in_thread(first)
    try:
        wait_until(lambda: first_queue.client.zscore(first_queue.keys.workers, "same"),
                   DEADLINE, "the first worker to register")
        second = RedisWorker("same", second_queue, log=None)
        with pytest.raises(WorkerIdInUseError, match="'same' is in use by another live process"):
            second.start(burst=True, handle_signals=False)
        ids = first_queue.add_tasks([{"type": "noop"} for _ in range(20)])
        wait_until(lambda: first_queue.get_stats()["completed"] == 20, DEADLINE, "20 completions")
        assert first_queue.client.exists(first_queue.keys.heartbeat("same")), \
            "the refused one deleted nothing of the first's"
    finally:
        first.stop()
        thread.join(DEADLINE)
    done = [e.task_id for e in first_queue.events(None) if e.name == "completed"]
    figures = {"accepted": len(ids), "completed": len(set(done)),
               "completed_twice": len(done) - len(set(done)), "second_refused": 1}
    record_figures("same-worker-id", figures)
    assert figures == {"accepted": 20, "completed": 20, "completed_twice": 0, "second_refused": 1}


def test_the_cli_refuses_a_second_worker_with_the_same_id_in_one_line(make_queue, redis_url,
                                                                      capsys):
    from session5_recovery.tools.cli import main

    queue = make_queue()
    first = RedisWorker("same", queue, log=None)
    thread = start_in_thread(first)
    try:
        wait_until(lambda: queue.client.exists(queue.keys.instance("same")), DEADLINE,
                   "the first worker to hold its id")
        code = main(["worker", "--id", "same", "--burst", "--heartbeat-interval", "0.1",
                     "--heartbeat-ttl", "0.5", "--redis-url", redis_url,
                     "--queue", queue.queue_name])
    finally:
        first.stop()
        thread.join(DEADLINE)
    err = capsys.readouterr().err
    assert code == 1 and "worker: worker id 'same' is in use by another live process" in err
    assert "Traceback" not in err


def test_the_id_of_a_process_that_died_is_free_again_after_one_ttl(make_queue):
    queue = make_queue()
    # A crashed process's token: nobody refreshes it, so it expires.
    queue.client.set(queue.keys.instance("w1"), "ghost-host/pid 1/dead", px=300)
    worker = RedisWorker("w1", queue, log=None)
    worker.start(burst=True, handle_signals=False)  # waits for the ghost to expire, then runs
    assert not queue.client.exists(queue.keys.instance("w1")), "released at a clean exit"


def test_a_worker_whose_id_was_taken_while_it_was_frozen_stops_touching_nothing(make_queue):
    queue = make_queue()
    log = Log()
    worker = RedisWorker("w1", queue, log=log)
    thread = start_in_thread(worker)
    try:
        wait_until(lambda: queue.client.exists(queue.keys.instance("w1")), DEADLINE,
                   "the worker to hold its id")
        # As if it had been frozen past its TTL and another process had taken the id.
        queue.client.set(queue.keys.instance("w1"), "other-host/pid 7/abc", px=60_000)
        thread.join(DEADLINE)
        assert not thread.is_alive(), "the worker stopped"
    finally:
        worker.stop()
        thread.join(DEADLINE)
    assert log.has("another live process now uses my worker id (other-host/pid 7/abc)")
    assert log.has("leaving without handing back or deregistering")
    assert queue.client.get(queue.keys.instance("w1")) == "other-host/pid 7/abc"
    assert queue.client.zscore(queue.keys.workers, "w1") is not None, "not deregistered"
