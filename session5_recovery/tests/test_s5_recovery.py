"""Recovery with real worker processes: SIGKILL, SIGSTOP/SIGCONT, poison, SIGTERM.

Short settings (heartbeat every 0.2 s, dead after 1 s) make each scenario take
a second or two. Nothing sleeps and hopes: every wait polls the queue or its
event stream until a condition holds, with a deadline. After every scenario the
conservation invariant must hold and nothing may be left in flight.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys

import pytest

from session5_recovery.tools import run_report
from session5_recovery.workers import (
    QueueKeys,
    RecoverySettings,
    RedisTaskQueue,
    RedisWorker,
    TaskStatus,
    default_handlers,
    run_worker_process,
)
from session5_recovery.workers.handlers import CRASH_EXIT_CODE
from workshop.waiting import wait_until

pytestmark = [
    pytest.mark.redis,
    pytest.mark.multiprocess,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals (SIGKILL, SIGSTOP)"),
]

SETTINGS = RecoverySettings(heartbeat_interval=0.2, heartbeat_ttl=1.0, reap_interval=0.2,
                            claim_timeout=0.2, backoff_base=0.05, backoff_cap=0.2)
# For tests that count attempts: a TTL of 15 intervals. With 1 s, a busy machine can stall
# a live worker's heartbeat thread long enough for it to be taken for dead (its task is
# requeued, and the attempt count goes up by one): the queue is right, the test would not be.
STEADY_SETTINGS = RecoverySettings.from_dict({**SETTINGS.to_dict(), "heartbeat_ttl": 3.0})
DEADLINE = 20.0  # generous upper bound for any one wait; a passing run needs a few seconds
SPAWN = multiprocessing.get_context("spawn")  # as on macOS and Windows


@pytest.fixture
def queue(redis_client, queue_name):
    return RedisTaskQueue(client=redis_client, queue_name=queue_name,
                          settings=SETTINGS.replace(run_ledger=QueueKeys(queue_name).runs))


@pytest.fixture
def workers(redis_url, queue_name, queue):
    """Start worker processes; every one still running at the end is killed.

    Every worker counts its runs in the queue's run ledger; at the end no task may
    have run more often than the faults of its test (kills, freezes, signals) allow.
    """
    started: list = []

    def start(worker_id: str, ctx=None, *, burst: bool = False, settings=SETTINGS,
              sleep_started=None):
        """``sleep_started``: an Event of ``ctx`` that each "sleep" task sets as it begins."""
        ctx = ctx or SPAWN
        ready = ctx.Event()
        settings = settings.replace(run_ledger=queue.settings.run_ledger)
        kwargs = {"settings": settings.to_dict(), "ready": ready}
        target = run_worker_process
        if sleep_started is not None:
            target = run_worker_that_says_when_a_sleep_starts
            kwargs["started"] = sleep_started
        process = ctx.Process(target=target, args=(worker_id, redis_url, queue_name, burst),
                              kwargs=kwargs, daemon=True)
        process.start()
        started.append(process)
        assert ready.wait(DEADLINE), f"worker {worker_id} did not start"
        return process

    yield start
    for process in started:
        if process.is_alive():
            os.kill(process.pid, signal.SIGCONT)  # a stopped process cannot die
            process.kill()
        process.join(5)
    report = run_report(queue)
    assert report.holds, report


def run_worker_that_says_when_a_sleep_starts(worker_id: str, redis_url: str, queue_name: str,
                                             burst: bool, *, settings: dict, ready, started) -> None:
    """A worker process whose "sleep" tasks set the Event ``started`` as they begin.

    The ``claimed`` event does not say that a task is running. Between the claim and
    the start the worker looks at its stop flag once more, and a SIGTERM that lands
    in that gap makes it hand the task back unstarted, as it should. A test of
    "SIGTERM while a task runs" waits for the task itself to say it has begun.
    """
    handlers = default_handlers()
    sleep = handlers.get("sleep")

    @handlers.register("sleep")
    def say_then_sleep(data, context):
        started.set()
        return sleep(data, context)

    queue = RedisTaskQueue(url=redis_url, queue_name=queue_name,
                           settings=RecoverySettings.from_dict(settings))
    try:
        worker = RedisWorker(worker_id, queue, handlers=handlers, log=None, kill_children=True)
        worker.start(burst=burst, on_registered=ready.set)
    finally:
        queue.close()


def wait_for(condition, what: str, timeout: float = DEADLINE):
    return wait_until(condition, timeout, what)


def event(queue, name, **fields):
    """The first event called ``name`` whose fields match, or None."""
    for e in queue.events(None):
        if e.name == name and all(e.fields.get(k) == str(v) for k, v in fields.items()):
            return e
    return None


def count(queue, name, **fields):
    return sum(1 for e in queue.events(None)
               if e.name == name and all(e.fields.get(k) == str(v) for k, v in fields.items()))


def assert_settled(queue):
    """Nothing in flight or waiting, and every task accounted for."""
    c = queue.conservation()
    assert c.holds, f"conservation broken: {c}"
    assert c.processing == 0 and c.pending == 0 and c.delayed == 0, f"work left over: {c}"


def test_sigkill_mid_task_the_task_completes_on_another_worker(queue, workers, mp_context):
    # Long enough that the victim cannot finish it between its claim and the kill, however
    # slow the machine: the kill comes right after the claim, before anything else starts.
    slow = queue.add_task({"type": "sleep", "seconds": 2.0})
    victim = workers("victim", mp_context, settings=STEADY_SETTINGS)
    claimed = wait_for(lambda: event(queue, "claimed", task=slow), "the slow task to be claimed")
    assert claimed.worker_id == "victim"
    victim.kill()  # SIGKILL: no handler, no finally, no goodbye
    victim.join(5)
    assert event(queue, "completed", task=slow) is None, "killed mid-task"
    others = queue.add_tasks([{"type": "noop"} for _ in range(5)])
    workers("rescuer", mp_context, settings=STEADY_SETTINGS)
    done = wait_for(lambda: event(queue, "completed", task=slow), "the task to complete elsewhere")
    assert done.worker_id == "rescuer" and done.attempt == 2
    assert count(queue, "completed", task=slow) == 1, "exactly one completion"
    assert event(queue, "worker_lost", worker="victim") is not None
    assert event(queue, "requeued", task=slow, reason="worker lost") is not None
    wait_for(lambda: all(queue.get_task_info(i).status is TaskStatus.COMPLETED for i in others),
             "the other tasks")
    assert_settled(queue)


def test_sigstop_past_the_ttl_then_sigcont_the_stale_completion_is_refused(queue, workers):
    # Long enough that the zombie cannot finish it between its claim and the SIGSTOP.
    task_id = queue.add_task({"type": "sleep", "seconds": 2.0})
    zombie = workers("zombie", settings=STEADY_SETTINGS)
    wait_for(lambda: event(queue, "claimed", task=task_id, worker="zombie"), "zombie's claim")
    os.kill(zombie.pid, signal.SIGSTOP)  # frozen mid-task: no heartbeats, no progress
    held = (queue.locate(task_id), queue.get_task_info(task_id).attempts)
    assert held == (["processing:zombie"], 1), \
        f"the premise failed: frozen, the zombie should hold attempt 1, but the task is {held}"
    workers("rescuer", settings=STEADY_SETTINGS)
    wait_for(lambda: event(queue, "completed", task=task_id, worker="rescuer"),
             "the rescuer to complete the task")
    os.kill(zombie.pid, signal.SIGCONT)  # the zombie wakes up and reports its stale result
    wait_for(lambda: event(queue, "completion_refused", task=task_id, worker="zombie"),
             "the zombie's completion to be refused")
    assert count(queue, "completed", task=task_id) == 1, "the result is written once"
    info = queue.get_task_info(task_id)
    assert info.status is TaskStatus.COMPLETED and info.worker_id == "rescuer"
    assert queue.locate(task_id) == ["completed"]
    assert_settled(queue)


def test_a_task_that_crashes_every_worker_ends_in_the_dlq(queue, workers):
    poison = queue.add_task({"type": "crash"}, max_attempts=3)
    good = queue.add_tasks([{"type": "sleep", "seconds": 0.05} for _ in range(8)])
    running = [workers("w1"), workers("w2")]
    replacements = 0

    def supervise():
        """Replace crashed workers (as systemd or Kubernetes would) until the poison is dead."""
        nonlocal replacements
        for index, process in enumerate(running):
            if not process.is_alive():
                assert process.exitcode == CRASH_EXIT_CODE, f"worker died with {process.exitcode}"
                replacements += 1
                assert replacements <= 5, "the poison task keeps killing workers: no DLQ limit?"
                running[index] = workers(f"w{replacements + 2}")
        return queue.get_task_info(poison).status is TaskStatus.DEAD_LETTERED and all(
            queue.get_task_info(i).status is TaskStatus.COMPLETED for i in good)

    wait_for(supervise, "the poison task in the DLQ and the good tasks completed")
    info = queue.get_task_info(poison)
    assert info.attempts == 3 and "lost in 3 of 3 attempts" in info.reason
    assert len(info.history) == 3 and all("lost" in h["error"] for h in info.history)
    assert replacements == 3, f"{replacements} workers crashed; expected exactly 3 (max_attempts)"
    assert count(queue, "worker_lost") == 3
    assert_settled(queue)


def test_sigterm_finishes_the_current_task_then_stops(queue, workers):
    # Long enough to be still running when the SIGTERM lands, however slow the machine.
    current = queue.add_task({"type": "sleep", "seconds": 3.0})
    started = SPAWN.Event()
    worker = workers("w1", settings=STEADY_SETTINGS, sleep_started=started)
    assert started.wait(DEADLINE), "the sleep task never started"
    later = queue.add_tasks([{"type": "noop"} for _ in range(3)])
    os.kill(worker.pid, signal.SIGTERM)
    worker.join(DEADLINE)
    assert worker.exitcode == 0, f"the worker exited with {worker.exitcode}"
    assert queue.get_task_info(current).status is TaskStatus.COMPLETED, "the current task was finished"
    assert all(queue.get_task_info(i).status is TaskStatus.PENDING for i in later), (
        "after SIGTERM the worker must not claim new tasks")
    assert event(queue, "worker_stopped", worker="w1") is not None
    assert queue.workers() == [] and queue.conservation().holds
    assert queue.conservation().processing == 0


def test_a_second_sigterm_requeues_the_task_and_stops_at_once(queue, workers):
    long_task = queue.add_task({"type": "sleep", "seconds": 30})
    started = SPAWN.Event()
    worker = workers("w1", settings=STEADY_SETTINGS, sleep_started=started)
    assert started.wait(DEADLINE), "the sleep task never started"
    os.kill(worker.pid, signal.SIGTERM)
    # Two signals sent at once arrive as one: wait until the first has been handled.
    wait_for(lambda: event(queue, "worker_stopping", worker="w1"), "the first SIGTERM to land")
    os.kill(worker.pid, signal.SIGTERM)
    worker.join(5)
    assert worker.exitcode == 0, "a second SIGTERM should stop the worker within seconds"
    info = queue.get_task_info(long_task)
    assert info.status is TaskStatus.PENDING and info.attempts == 0, (
        "the interrupted task is back in pending with its attempt given back")
    assert event(queue, "requeued", task=long_task,
                 reason="second stop signal: requeued unfinished") is not None
    assert queue.locate(long_task) == ["pending"] and queue.conservation().holds


def test_a_long_busy_task_does_not_make_its_worker_look_dead(queue, workers):
    task_id = queue.add_task({"type": "sleep", "seconds": 2.0, "busy": True})  # 2x the TTL
    workers("busy")
    workers("watcher")  # its heartbeat thread runs the reaper all along
    done = wait_for(lambda: event(queue, "completed", task=task_id), "the busy task")
    assert done.worker_id == "busy" and done.attempt == 1
    assert count(queue, "worker_lost") == 0 and count(queue, "completion_refused") == 0
    assert_settled(queue)
