"""A server that is busy (a long script: ``BUSY``) or loading (``LOADING``) is an outage.

Each test runs a worker in a thread against a private ``redis-server`` and, while
it works, makes that server answer every other client with ``BUSY`` (another
client's script that loops for a second and a half) or ``LOADING`` (``DEBUG
RELOAD`` of a dataset slowed down with ``key-load-delay``). The worker, its
heartbeat thread and its stray check must wait and retry, say so once, and run
every task exactly once: neither reply means our command ran.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

import pytest
import redis
from _chaos_helpers import ThrowawayRedis, record_figures, redis_server_binary

from session5_recovery.tools import run_report
from session5_recovery.workers import QueueKeys, RecoverySettings, RedisTaskQueue, RedisWorker
from workshop.waiting import wait_until

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.redis,
    pytest.mark.skipif(redis_server_binary() is None, reason="needs a redis-server binary"),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX only"),
]

# A stray check between tasks and a heartbeat every 0.1 s: all three callers meet the
# outage. A TTL longer than the outage: nobody is taken for dead (that would be a fault).
SETTINGS = dict(heartbeat_interval=0.1, heartbeat_ttl=5.0, reap_interval=0.05,
                claim_timeout=0.1, backoff_base=0.01, backoff_cap=0.02, reconnect_cap=0.2)
TASKS = 150
DEADLINE = 60

# Loops for 1.5 s on the server. Past busy-reply-threshold (50 ms here) every other
# client gets "BUSY Redis is busy running a script" until it ends.
BUSY_SCRIPT = """
local start = redis.call('TIME')
repeat
    local now = redis.call('TIME')
until (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > 1500000
return 1
"""


def make_busy(server: ThrowawayRedis) -> None:
    with server.client() as client:
        client.eval(BUSY_SCRIPT, 0)


def make_loading(server: ThrowawayRedis) -> None:
    """DEBUG RELOAD: save, then load again, about 1.5 s slowed down; LOADING meanwhile."""
    with server.client(socket_timeout=30) as client:
        client.execute_command("DEBUG", "POPULATE", 10_000, "filler")
        client.config_set("key-load-delay", 150)  # microseconds per key
        client.config_set("loading-process-events-interval-bytes", 1024)
        client.execute_command("DEBUG", "RELOAD")
        client.config_set("key-load-delay", 0)


def run_through(outage: Callable[[ThrowawayRedis], None], name: str, seen: str) -> None:
    config = {"busy-reply-threshold": "50", "enable-debug-command": "yes"}
    with ThrowawayRedis(config=config) as server:
        queue = RedisTaskQueue(url=server.url, queue_name=name, settings=RecoverySettings(
            **SETTINGS, run_ledger=QueueKeys(name).runs))
        ids = queue.add_tasks([{"type": "sleep", "seconds": 0.01}] * TASKS)
        log: list[str] = []
        worker = RedisWorker("w1", queue, log=log.append, prefetch=4)
        thread = threading.Thread(target=worker.start,
                                  kwargs={"burst": False, "handle_signals": False}, daemon=True)
        thread.start()
        try:
            wait_until(lambda: queue.get_stats()["completed"] >= 20, DEADLINE, "20 completions")
            outage(server)
            wait_until(lambda: queue.get_stats()["completed"] == TASKS, DEADLINE,
                       f"all tasks completed after the {seen} outage")
            heartbeat_alive = worker.heartbeat._thread.is_alive()
            worker_alive = thread.is_alive()
        finally:
            worker.stop()
            thread.join(15)
        report = run_report(queue, ids)
        said = [line for line in log if seen in line]
        record_figures(f"{name}_outage", {**report.as_dict(), "lines_about_it": len(said)})
        assert worker_alive and heartbeat_alive, f"a thread died of {seen}:\n" + "\n".join(log)
        assert said, f"the worker never met the {seen} outage:\n" + "\n".join(log)
        # Once by the worker, once by its heartbeat thread: not once per retry or caller.
        assert len(said) <= 2, "\n".join(said)
        assert report.holds and report.runs == TASKS and report.faults == 0, report
        assert queue.conservation().holds and not thread.is_alive()
        queue.close()


def test_a_busy_server_is_an_outage_not_a_crash():
    run_through(make_busy, "busy", "BUSY")


def test_a_loading_server_is_an_outage_not_a_crash():
    run_through(make_loading, "loading", "LOADING")


def test_is_outage_names_busy_and_loading_but_not_a_refusal():
    from session5_recovery.workers.redis_task_queue import is_outage

    assert is_outage(redis.ResponseError("BUSY Redis is busy running a script."))
    assert is_outage(redis.exceptions.BusyLoadingError("LOADING Redis is loading"))
    assert is_outage(redis.TimeoutError("Timeout reading from socket"))
    assert not is_outage(redis.ResponseError("WRONGTYPE Operation against a key"))


def test_a_single_call_survives_a_server_that_forgot_the_script():
    """The one-call path (a claim, a completion) sends EVALSHA itself: on NOSCRIPT it
    loads the script and sends the call once more."""
    with ThrowawayRedis() as server:
        queue = RedisTaskQueue(url=server.url, queue_name="noscript-one",
                               settings=RecoverySettings(**SETTINGS))
        queue.add_tasks([{"type": "noop"}] * 2)
        queue.client.script_flush()
        (task,) = queue.get_tasks("w1", 1, timeout=0)
        queue.client.script_flush()
        recorded, following = queue.complete_and_claim(task.id, None, worker_id="w1")
        assert recorded and len(following) == 1
        assert queue.conservation().holds
        queue.close()


def test_a_batch_completion_survives_a_server_that_forgot_the_script():
    """complete_many sends EVALSHA in a pipeline itself (no SCRIPT EXISTS first): after a
    SCRIPT FLUSH (what a restart does), it loads the script and sends the batch again."""
    with ThrowawayRedis() as server:
        queue = RedisTaskQueue(url=server.url, queue_name="noscript",
                               settings=RecoverySettings(**SETTINGS))
        ids = queue.add_tasks([{"type": "noop"}] * 3)
        tasks = queue.get_tasks("w1", 3, timeout=0)
        queue.client.script_flush()
        recorded, _ = queue.complete_many("w1", [(t.id, "") for t in tasks])
        assert recorded == [True, True, True]
        assert queue.list_ids("completed") == ids and queue.conservation().holds
        # And no SCRIPT EXISTS round trip before each batch (redis-py's script objects
        # send one before every pipeline that holds a script).
        more = queue.add_tasks([{"type": "noop"}] * 3)
        tasks = queue.get_tasks("w1", 3, timeout=0)
        queue.client.config_resetstat()
        queue.complete_many("w1", [(t.id, "") for t in tasks])
        commands = queue.client.info("commandstats")
        assert "cmdstat_script|exists" not in commands, commands
        assert queue.list_ids("completed") == ids + more
        queue.close()
