"""Server-side faults, each on a private ``redis-server`` this test starts and stops.

Never on the shared server: eviction policies, a full server, restarts and pauses
all happen to a ``ThrowawayRedis`` on a free port. Each test records its figures
(tasks accepted, completed, lost, run twice) in ``output/chaos/``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from io import StringIO

import pytest
import redis
from _chaos_helpers import ThrowawayRedis, record_figures, redis_server_binary
from rich.console import Console

from session5_recovery.tools.cli import main
from session5_recovery.tools.monitor import run_monitor
from session5_recovery.workers import RecoverySettings, RedisTaskQueue, RedisWorker
from session5_recovery.workers.handlers import default_handlers
from session5_recovery.workers.server_checks import EvictingServerError
from workshop.waiting import wait_until

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.redis,
    pytest.mark.skipif(redis_server_binary() is None, reason="needs a redis-server binary"),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

FAST = dict(heartbeat_interval=0.1, heartbeat_ttl=1.0, reap_interval=0.1, claim_timeout=0.1,
            backoff_base=0.01, backoff_cap=0.02, reconnect_cap=0.2)
DEADLINE = 60  # seconds for any one wait; the tests finish in a fraction of that


class Log(list):
    """A worker's log lines, kept for the test to wait on."""

    def __call__(self, line: str) -> None:
        self.append(line)

    def has(self, words: str) -> bool:
        return any(words in line for line in list(self))


def completions(queue: RedisTaskQueue) -> list[str]:
    return [e.task_id for e in queue.events(None) if e.name == "completed"]


# --- eviction ---------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-lru"])
def test_a_worker_and_the_cli_refuse_an_evicting_server(policy, capsys):
    with ThrowawayRedis(maxmemory=20_000_000, policy=policy) as server:
        queue = RedisTaskQueue(url=server.url, queue_name="evict")
        with pytest.raises(EvictingServerError, match=f"maxmemory-policy is {policy}"):
            RedisWorker("w1", queue, log=None).start(burst=True, handle_signals=False)
        assert queue.client.zcard(queue.keys.workers) == 0, "refused before registering"
        for argv in (["worker", "--burst"], ["enqueue", "--task", '{"type": "noop"}']):
            assert main([*argv, "--redis-url", server.url, "--queue", "evict"]) == 1
            err = capsys.readouterr().err
            assert "refusing to start" in err and "--allow-eviction" in err and policy in err
        assert queue.get_stats()["enqueued"] == 0
        queue.close()


def test_tasks_evicted_on_a_full_lru_server_are_reported_as_lost_to_eviction():
    accepted = 300
    # maxmemory-samples 64: a close to exact LRU, so what goes is what sat idle longest.
    with ThrowawayRedis(maxmemory=3_000_000, policy="allkeys-lru",
                        config={"maxmemory-samples": "64"}) as server:
        client = server.client()
        queue = RedisTaskQueue(client=client, queue_name="evict",
                               settings=RecoverySettings(**FAST))
        ids = queue.add_tasks([{"type": "noop", "pad": "p" * 400} for _ in range(accepted)])
        # The LRU clock ticks once a second: let the records grow older than anything the
        # fill below touches, or the server picks among equals at random (lists included).
        wait_until(lambda: client.object("idletime", queue.keys.task(ids[-1])) >= 2, DEADLINE,
                   "the task records to sit idle for 2 s")
        # Fill the server until the LRU has evicted some task records (bounded).
        evicted_records = 0
        for n in range(20_000):
            client.set(f"junk:{n}", "x" * 2_000)
            # A live queue reads its lists all the time, so the LRU keeps them and evicts
            # the task records that sit waiting (without this it may drop the whole list).
            client.llen(queue.keys.pending)
            client.scard(queue.keys.tasks)
            if n % 50 == 0:
                pipe = client.pipeline(transaction=False)
                for task_id in ids:
                    pipe.exists(queue.keys.task(task_id))
                evicted_records = accepted - sum(pipe.execute())
                if evicted_records >= 10:
                    break
        assert evicted_records >= 10, "the server evicted no task records"
        assert client.exists(queue.keys.pending, queue.keys.tasks) == 2, "the lists were kept"
        client.delete(*[f"junk:{i}" for i in range(n + 1)])  # room again for the worker
        worker = RedisWorker("w1", queue, log=None, allow_eviction=True)
        worker.start(burst=True, handle_signals=False)
        reasons = [t.reason or "" for t in queue.dlq_tasks()]
        reported = sum("LOST TO EVICTION" in r for r in reasons)
        stats = queue.get_stats()
        done = completions(queue)
        figures = {"accepted": accepted, "completed": len(set(done)),
                   "records_evicted": evicted_records, "reported_lost_to_eviction": reported,
                   "vanished_without_a_trace": accepted - len(set(done)) - reported,
                   "run_twice": len(done) - len(set(done))}
        record_figures("eviction-allkeys-lru", figures)
        assert reported >= 1, reasons[:3]
        assert not any("by hand" in r for r in reasons), "not blamed on a person"
        assert figures["run_twice"] == 0 and stats["processing"] == 0
        client.close()


# --- a full server (noeviction) ----------------------------------------------------------


def fill(client: redis.Redis) -> int:
    """Make the (private) server full, firmly: maxmemory below what it already uses.

    Filling it to the brim with junk is fuzzy (right at the limit a small write may
    still pass); a limit under the current use refuses every write that needs
    memory. Returns the old limit, for ``make_room``.
    """
    old = int(client.config_get("maxmemory")["maxmemory"])
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", used // 2)
    return old


def make_room(client: redis.Redis, limit: int) -> None:
    client.config_set("maxmemory", limit)


@pytest.fixture
def full_server() -> Iterator[ThrowawayRedis]:
    with ThrowawayRedis(maxmemory=6_000_000, policy="noeviction") as server:
        yield server


def test_workers_and_heartbeats_ride_out_a_full_server(full_server):
    client = full_server.client()
    queue = RedisTaskQueue(client=client, queue_name="full", settings=RecoverySettings(**FAST))
    gate, running = threading.Event(), threading.Event()
    handlers = default_handlers()

    @handlers.register("gated")
    def gated(data, context):
        running.set()
        gate.wait(DEADLINE)
        return {"ok": True}

    first = queue.add_task({"type": "gated"})
    others = queue.add_tasks([{"type": "noop"} for _ in range(20)])
    log = Log()
    worker = RedisWorker("w1", queue, handlers=handlers, log=log)
    thread = threading.Thread(target=worker.start, kwargs={"burst": False, "handle_signals": False})
    thread.start()
    try:
        wait_until(running.is_set, DEADLINE, "the gated task to start")
        limit = fill(client)  # now the server is full while the task runs
        gate.set()  # its completion meets a full server
        wait_until(lambda: log.has("Redis is full"), DEADLINE, "the worker to say Redis is full")
        wait_until(lambda: log.has("heartbeat: Redis is full"), DEADLINE, "the heartbeat to say so")
        assert thread.is_alive() and worker.heartbeat._thread.is_alive(), "nobody died"
        assert client.exists(queue.keys.heartbeat("w1")), "the heartbeat key is kept alive"
        make_room(client, limit)  # someone makes room
        wait_until(lambda: queue.get_stats()["completed"] == 21, DEADLINE, "every task to complete")
    finally:
        gate.set()
        worker.stop()
        thread.join(DEADLINE)
    done = completions(queue)
    figures = {"accepted": 21, "completed": len(set(done)), "run_twice": len(done) - len(set(done)),
               "lost": 21 - queue.get_stats()["total"], "worker_deaths": 0}
    record_figures("full-server-noeviction", figures)
    assert figures == {"accepted": 21, "completed": 21, "run_twice": 0, "lost": 0,
                       "worker_deaths": 0}
    assert first in done and set(others) <= set(done)
    client.close()


def test_a_batch_enqueue_on_a_full_server_is_all_or_nothing_and_says_so(full_server, capsys):
    client = full_server.client()
    queue = RedisTaskQueue(client=client, queue_name="full")
    queue.add_tasks([{"type": "noop"} for _ in range(5)])
    limit = fill(client)
    with pytest.raises(SystemExit) as refused:
        main(["enqueue", "--task", '{"type": "noop", "pad": "' + "p" * 500 + '"}',
              "--repeat", "50", "--redis-url", full_server.url, "--queue", "full"])
    message = str(refused.value.code)
    assert "Redis is full" in message and "none of the 50 task(s) was queued" in message
    assert "\n" not in message, "one line"
    stats = queue.get_stats()
    assert stats["enqueued"] == 5 and stats["total"] == 5, "none of the batch was queued"
    record_figures("full-server-batch-enqueue", {"accepted_before": 5, "batch": 50,
                                                 "batch_queued": stats["enqueued"] - 5})
    make_room(client, limit)
    client.close()


# --- a server that restarted empty ---------------------------------------------------------


def test_a_server_that_restarted_empty_is_reported_in_plain_words(capsys):
    with ThrowawayRedis() as server:  # no persistence: a restart loses everything
        client = server.client()
        queue = RedisTaskQueue(client=client, queue_name="amnesia", settings=RecoverySettings(**FAST))
        gate, running = threading.Event(), threading.Event()
        handlers = default_handlers()

        @handlers.register("gated")
        def gated(data, context):
            running.set()
            gate.wait(DEADLINE)

        accepted = [queue.add_task({"type": "gated"})]
        accepted += queue.add_tasks([{"type": "noop"} for _ in range(10)])
        log = Log()
        worker = RedisWorker("w1", queue, handlers=handlers, log=log)
        thread = threading.Thread(target=worker.start,
                                  kwargs={"burst": False, "handle_signals": False})
        thread.start()
        try:
            wait_until(running.is_set, DEADLINE, "the gated task to start")
            server.restart_empty()
            gate.set()
            wait_until(lambda: log.has("the Redis server lost this queue's data"), DEADLINE,
                       "the worker to say the data was lost")
            wait_until(lambda: log.has("REFUSED completion"), DEADLINE, "the completion")
            assert log.has("the server lost the queue's data while I ran it"), \
                "the refusal names the real cause, not 'taken for dead'"
            code = main(["stats", "--redis-url", server.url, "--queue", "amnesia"])
            out = capsys.readouterr().out
            assert code == 3, "stats does not exit 0 on a queue whose data was lost"
            assert "DATA LOST" in out and "restarted without persistence" in out
            screen = StringIO()
            run_monitor(queue, once=True, reap=False, console=Console(file=screen, width=200))
            assert "DATA LOST" in screen.getvalue(), "the monitor says so too"
        finally:
            gate.set()
            worker.stop()
            thread.join(DEADLINE)
        assert thread is not None and not thread.is_alive()
        stats = queue.get_stats()
        record_figures("restart-empty", {"accepted": len(accepted), "lost_with_the_server": len(accepted)
                                         - stats["total"], "reported": 1,
                                         "completed_after": stats["completed"]})
        client.close()


# --- a worker that was only unreachable must not burn attempts ---------------------------------


def test_four_redis_restarts_during_a_long_task_burn_no_attempt():
    with ThrowawayRedis(appendonly=True) as server:
        # The runner beats slowly (0.45 s, within its 1 s TTL) and the watcher reaps every
        # 0.05 s: after each restart the watcher's reaper is back before the runner's beat,
        # which is what makes a merely unreachable worker look dead.
        queue = RedisTaskQueue(url=server.url, queue_name="restarts",
                               settings=RecoverySettings(**{**FAST, "heartbeat_interval": 0.45}))
        gate, running = threading.Event(), threading.Event()
        handlers = default_handlers()

        @handlers.register("long")
        def long(data, context):
            running.set()
            gate.wait(DEADLINE)
            return {"attempt": context.attempt}

        task_id = queue.add_task({"type": "long"})
        extra = queue.add_tasks([{"type": "noop"} for _ in range(5)])
        # Two workers: the one running the long task, and another whose reaper watches it.
        runner = RedisWorker("runner", queue, handlers=handlers, log=None)
        threads = [threading.Thread(target=runner.start,
                                    kwargs={"burst": False, "handle_signals": False})]
        threads[0].start()
        wait_until(running.is_set, DEADLINE, "the long task to start")
        watcher_queue = RedisTaskQueue(url=server.url, queue_name="restarts",
                                       settings=RecoverySettings(**{**FAST, "reap_interval": 0.05}))
        watcher = RedisWorker("watcher", watcher_queue, handlers=handlers, log=None)
        threads.append(threading.Thread(target=watcher.start,
                                        kwargs={"burst": False, "handle_signals": False}))
        threads[1].start()
        try:
            wait_until(lambda: queue.get_stats()["completed"] == 5, DEADLINE, "the short tasks")
            for _ in range(4):
                server.stop(kill=True)
                # Down for longer than the heartbeat TTL, so every heartbeat expires meanwhile.
                threading.Event().wait(FAST["heartbeat_ttl"] * 1.5)
                before = (runner.heartbeat.beats, watcher.heartbeat.beats)
                server.start()
                # Both back and beating (twice: by then the watcher's reaper has run often).
                wait_until(lambda b=before: runner.heartbeat.beats >= b[0] + 2
                           and watcher.heartbeat.beats >= b[1] + 2, DEADLINE,
                           "both workers to beat again after the restart")
            gate.set()
            wait_until(lambda: queue.get_stats()["completed"] == 6, DEADLINE, "the long task")
        finally:
            gate.set()
            runner.stop()
            watcher.stop()
            for thread in threads:
                thread.join(DEADLINE)
        task = queue.get_task_info(task_id)
        lost = [e for e in queue.events(None) if e.name == "worker_lost"]
        figures = {"accepted": 1 + len(extra), "completed": queue.get_stats()["completed"],
                   "attempts_of_the_long_task": task.attempts, "false_deaths": len(lost),
                   "restarts": 4}
        record_figures("restarts-during-a-long-task", figures)
        assert task.attempts == 1 and task.result == {"attempt": 1}, figures
        assert not lost, figures
        queue.close()
        watcher_queue.close()


def test_a_late_reaper_holds_off_for_one_ttl_before_reaping(fake_clock):
    from session5_recovery.workers.grace import ReapGrace

    with ThrowawayRedis() as server:
        client = server.client()
        grace = ReapGrace(client, heartbeat_ttl=1.0, reap_interval=0.1, monotonic=fake_clock)
        fake_clock.advance(5)  # the server has been up long enough by now (uptime is real)
        wait_until(lambda: int(client.info("server")["uptime_in_seconds"]) >= 1, DEADLINE,
                   "the server's uptime to pass the TTL")
        assert grace.hold_off() is False, "on time: reap"
        fake_clock.advance(0.1)
        assert grace.hold_off() is False
        fake_clock.advance(3.0)  # frozen for three TTLs
        assert grace.hold_off() is True and "was late" in grace.reason
        fake_clock.advance(0.5)
        assert grace.hold_off() is True, "still within one TTL of waking"
        fake_clock.advance(0.6)
        assert grace.hold_off() is False, "one TTL later: live workers have beaten; reap"
        client.close()


# --- stray claims under connection churn ---------------------------------------------------


def test_a_stray_claim_is_released_after_an_outage_without_waiting_to_be_idle():
    with ThrowawayRedis() as server:
        queue = RedisTaskQueue(url=server.url, queue_name="churn",
                               settings=RecoverySettings(**FAST))
        gate, running = threading.Event(), threading.Event()
        handlers = default_handlers()

        @handlers.register("gated")
        def gated(data, context):
            running.set()
            gate.wait(DEADLINE)

        queue.add_task({"type": "gated"})
        stray = queue.add_task({"type": "noop"})
        busy = queue.add_tasks([{"type": "sleep", "seconds": 0.01} for _ in range(30)])
        worker = RedisWorker("w1", queue, handlers=handlers, log=None)
        thread = threading.Thread(target=worker.start,
                                  kwargs={"burst": True, "handle_signals": False})
        thread.start()
        try:
            wait_until(running.is_set, DEADLINE, "the gated task to start")
            # A claim whose reply was lost: recorded for w1, in w1's list, never received.
            other = RedisTaskQueue(url=server.url, queue_name="churn",
                                   settings=RecoverySettings(**FAST))
            (lost_claim,) = other.get_tasks("w1", 1, timeout=0)
            other.close()
            assert lost_claim.id == stray
            admin = server.client()
            admin.client_kill_filter(_type="normal", skipme=True)  # the connection churn
            admin.close()
            gate.set()
            thread.join(DEADLINE)
        finally:
            gate.set()
            worker.stop()
            thread.join(DEADLINE)
        events = queue.events(None)
        released = [i for i, e in enumerate(events)
                    if e.name == "requeued" and e.task_id == stray]
        last_busy_claim = max(i for i, e in enumerate(events)
                              if e.name == "claimed" and e.task_id in set(busy))
        done = [e.task_id for e in events if e.name == "completed"]
        figures = {"accepted": 32, "completed": len(set(done)), "run_twice": len(done) - len(set(done)),
                   "stray_released_before_idle": bool(released and released[0] < last_busy_claim)}
        record_figures("stray-claim-under-churn", figures)
        assert figures == {"accepted": 32, "completed": 32, "run_twice": 0,
                           "stray_released_before_idle": True}
        queue.close()
