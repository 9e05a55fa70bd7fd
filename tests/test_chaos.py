"""Chaos: real worker processes killed, frozen, poisoned and cut off from Redis, on purpose.

Session 5 says its queue survives crashes. These tests are the evidence, with
real processes and a real Redis, each bounded in time:

- random SIGKILLs (one per wave of tasks) during a run of 300+ image and sleep tasks;
- a zombie: a worker frozen (SIGSTOP) past its heartbeat TTL, then thawed;
- poison: a task that kills every worker that runs it;
- a Redis restart in the middle of a run (a throwaway redis-server with AOF), and
  its rare casualty replayed deterministically: a claim whose reply was lost;
- SIGTERM during a long task (finish it), and a second SIGTERM (requeue it).

Run them alone with ``pytest -m chaos -s``: each prints its figures (tasks, kills,
recoveries, recovery latency) and saves them in ``output/chaos/<test>.json``.
The random kills use a seeded generator, printed first: ``CHAOS_SEED=<n> pytest
-m chaos`` replays the same sleep lengths and victim choices (process timing
still varies a little from run to run).
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from _chaos_helpers import (
    IN_CI,
    Processes,
    ThrowawayRedis,
    record_figures,
    redis_server_binary,
    run_s5_worker,
)
from PIL import Image

from session5_recovery.tools import WorkerFleet, run_report
from session5_recovery.workers import QueueKeys, RecoverySettings, RedisTaskQueue
from workshop.images import generated_image
from workshop.waiting import wait_until

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.redis,
    pytest.mark.multiprocess,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals (SIGKILL, SIGSTOP, SIGTERM)"),
]

START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"

# Short heartbeats, so a dead worker is noticed in about half a second. A TTL of
# six intervals leaves room for a late beat on a busy 2-core machine.
FAST = {"heartbeat_interval": 0.1, "heartbeat_ttl": 0.6, "reap_interval": 0.1,
        "claim_timeout": 0.2, "backoff_base": 0.05, "backoff_cap": 0.5, "reconnect_cap": 0.5,
        "max_attempts": 3}
# For tests that count the attempts of a worker that stays alive: 30 heartbeat intervals,
# a stall no busy machine reaches by accident. With FAST's 0.6 s, a heartbeat thread held
# up that long gets a live worker taken for dead (its own reaper requeues its task), and
# the attempt count the test checks goes up by one. The queue is right to do so.
STEADY_TTL = 3.0


def ledgered_queue(url: str, name: str) -> RedisTaskQueue:
    """A session 5 queue whose workers count each run in the queue's run ledger."""
    return RedisTaskQueue(url=url, queue_name=name, settings=RecoverySettings.from_dict(
        {**FAST, "run_ledger": QueueKeys(name).runs}))


def settings_for(queue: RedisTaskQueue, **changes: Any) -> dict[str, Any]:
    """FAST with ``changes``, and the queue's run ledger: what a worker process is given."""
    return {**FAST, **changes, "run_ledger": queue.settings.run_ledger}


def check_runs(queue: RedisTaskQueue, name: str, tmp_path: Any = None) -> None:
    """Runs per task against the faults that hit it, recorded for the closing note."""
    report = run_report(queue)
    record_figures(f"ledger_{name}", report.as_dict(), tmp_path)
    assert report.holds, report


@pytest.fixture
def chaos_queue(redis_target, request) -> Iterator[RedisTaskQueue]:
    """A session 5 queue on the test Redis, under a unique name, deleted afterwards.

    Its workers keep a run ledger; at the end no task may have run more often than
    one run, plus one per fault that hit it, plus its retries.
    """
    queue = ledgered_queue(redis_target.url, f"chaos-{uuid.uuid4().hex[:10]}")
    try:
        yield queue
        check_runs(queue, request.node.name)
    finally:
        queue.clear()
        queue.close()


def fleet_for(queue: RedisTaskQueue, url: str, prefix: str, allowed: list[str] | None = None,
              **changes: Any) -> WorkerFleet:
    settings = RecoverySettings.from_dict(settings_for(queue, **changes))
    # CHAOS_VERBOSE=1: the workers print a line per event (shown when a test fails).
    return WorkerFleet(url, queue.queue_name, settings=settings, start_method=START_METHOD,
                       allowed_dirs=allowed, prefix=prefix,
                       verbose=os.environ.get("CHAOS_VERBOSE") == "1")


def events_by(queue: RedisTaskQueue, name: str) -> list[Any]:
    return [e for e in queue.events(None) if e.name == name]


def assert_each_completed_once(queue: RedisTaskQueue, ids: list[str]) -> None:
    """Every id in the completed list exactly once, and one ``completed`` event each."""
    completed = Counter(queue.list_ids("completed"))
    missing = [i for i in ids if completed[i] == 0]
    doubled = {i: n for i, n in completed.items() if n > 1}
    assert not missing, f"{len(missing)} task(s) never completed, e.g. {missing[:3]}"
    assert not doubled, f"task(s) completed more than once: {doubled}"
    events = Counter(e.task_id for e in events_by(queue, "completed"))
    twice = {i: n for i, n in events.items() if n != 1}
    assert not twice and set(events) == set(ids), f"completed events per task: {twice}"


def assert_nothing_lost(queue: RedisTaskQueue, total: int, *, failed: int = 0) -> None:
    c = queue.conservation()
    assert c.holds, f"conservation broken: {c}"
    assert (c.enqueued, c.pending, c.processing, c.delayed, c.dead_lettered) == (total, 0, 0, 0, failed), \
        f"expected {total} tasks, none left anywhere but completed/DLQ ({failed} in the DLQ): {c}"
    leftovers = [k for k in queue.client.scan_iter(match=queue.keys.processing_pattern)
                 if queue.client.llen(k)]
    assert not leftovers, f"tasks left in flight in {leftovers}"


def diagnose(queue: RedisTaskQueue) -> str:
    """Where the unfinished tasks are and what happened to them, for a failure message."""
    lines = [str(queue.conservation())]
    for info in queue.workers():
        lines.append(f"worker {info.worker_id}: ttl left {info.ttl_left}, in flight {info.in_flight}")
    unfinished = (queue.list_ids("pending") + queue.list_ids("processing")
                  + queue.list_ids("delayed"))
    for task_id in unfinished[:5]:
        story = [(e.name, e.worker_id, e.fields.get("reason")) for e in queue.events(None)
                 if e.task_id == task_id]
        lines.append(f"task {task_id} in {queue.locate(task_id)}: {story}")
    return "\n".join(lines)


# --- 1. random SIGKILLs ------------------------------------------------------------------


TASKS = 320
KILLS = 4  # the tasks arrive in KILLS + 1 waves; one SIGKILL in each wave but the last


def test_random_sigkills_lose_nothing_and_complete_each_task_once(chaos_queue, redis_target,
                                                                 tmp_path):
    """3 workers, one SIGKILLed in each wave of tasks and replaced, until 320 tasks are done.

    The kills follow the queue, not the clock: the tasks arrive in waves, and in each
    wave but the last a worker holding a task is killed before the next wave is
    queued. However fast or slow the machine, the run sees exactly KILLS kills.
    """
    queue, url = chaos_queue, redis_target.url
    seed = int(os.environ.get("CHAOS_SEED", random.randrange(1_000_000)))
    print(f"\nCHAOS_SEED={seed}")
    rng = random.Random(seed)
    inputs = []
    for n in range(8):
        path = tmp_path / "in" / f"img{n}.jpg"
        path.parent.mkdir(exist_ok=True)
        generated_image(160, 120, seed=n).save(path, quality=85)
        inputs.append(path)
    tasks: list[dict[str, Any]] = []
    for n in range(TASKS):
        if n % 5 < 3:
            tasks.append({"image_path": str(inputs[n % 8]),
                          "output_path": str(tmp_path / "out" / f"{n}.png")})
        else:
            tasks.append({"type": "sleep", "seconds": round(rng.uniform(0.08, 0.2), 3)})
    wave_size = -(-TASKS // (KILLS + 1))
    waves = [tasks[i:i + wave_size] for i in range(0, TASKS, wave_size)]

    kills: list[dict[str, Any]] = []
    samples = violations = 0

    def sample_conservation() -> None:
        nonlocal samples, violations
        samples += 1
        violations += not queue.conservation().holds

    def busy_workers() -> list[str]:
        sample_conservation()
        return [w for w in sorted(fleet.alive()) if queue.client.llen(queue.keys.processing(w))]

    ids: list[str] = []
    started = time.monotonic()
    with fleet_for(queue, url, "storm", [str(tmp_path)]) as fleet:
        fleet.start(3)
        for number, wave in enumerate(waves):
            # Ten attempts: a task may be hit by more than one kill, and this test is
            # about losing nothing, not about the poison limit (tested below).
            ids += queue.add_tasks(wave, max_attempts=10)
            if number == KILLS:
                break
            # Each wave has 64 tasks and three workers: someone holds one now or soon.
            busy = wait_until(busy_workers, 60, f"a worker to claim a task of wave {number + 1}")
            victim = rng.choice(busy)
            at = time.time()
            fleet.kill(victim)  # SIGKILL: no handler, no cleanup, no goodbye
            # Read after the kill: a dead worker's list cannot change until it is reaped.
            held = queue.client.lrange(queue.keys.processing(victim), 0, -1)
            kills.append({"worker": victim, "at": at, "held": held})
            fleet.replace_dead()
        try:
            wait_until(lambda: sample_conservation() or queue.is_drained(), 180,
                       f"the {TASKS} tasks to drain", every=0.02)
        except TimeoutError:
            raise AssertionError(f"not drained after 180 s:\n{diagnose(queue)}") from None
        drained = time.monotonic() - started
        # A worker killed just before the end is noticed one TTL later.
        victims = {k["worker"] for k in kills}
        wait_until(lambda: victims <= {e.worker_id for e in events_by(queue, "worker_lost")},
                   30, "every killed worker to be reaped")
        fleet.stop()
        exit_codes = {w: p.exitcode for w, p in fleet.processes.items()}

    requeued = [e for e in events_by(queue, "requeued") if e.fields.get("reason") == "worker lost"]
    lost = events_by(queue, "worker_lost")
    latencies = []
    for kill in kills:
        for task_id in kill["held"]:
            found = [e for e in requeued if e.task_id == task_id and e.worker_id == kill["worker"]]
            assert found, f"task {task_id} held by killed {kill['worker']} was never requeued"
            latencies.append(found[0].ts - kill["at"])
    figures = {
        "seed": seed, "tasks": TASKS, "workers": 3, "kills": len(kills),
        "kills_with_a_task_in_hand": sum(bool(k["held"]) for k in kills),
        "recoveries": len(requeued), "tasks_recovered_from_killed_workers": len(latencies),
        "max_recovery_latency_s": round(max(latencies, default=0.0), 3),
        "mean_recovery_latency_s": round(sum(latencies) / len(latencies), 3) if latencies else None,
        "workers_lost_events": len(lost),
        "workers_lost_not_killed": len({e.worker_id for e in lost} - victims),
        "completions_refused": len(events_by(queue, "completion_refused")),
        "conservation_samples": samples, "conservation_violations": violations,
        "seconds_to_drain": round(drained, 2), "heartbeat_ttl_s": FAST["heartbeat_ttl"],
    }
    record_figures("random_sigkills", figures, tmp_path)

    assert len(kills) == KILLS, f"one kill per wave but the last was planned: {figures}"
    assert violations == 0, f"the conservation invariant failed in {violations} of {samples} samples"
    assert_each_completed_once(queue, ids)
    assert_nothing_lost(queue, TASKS)
    assert victims <= {e.worker_id for e in lost}, "every killed worker must be seen as lost"
    assert all(code == -signal.SIGKILL for w, code in exit_codes.items() if w in victims)
    assert all(code == 0 for w, code in exit_codes.items() if w not in victims), exit_codes
    for n in range(TASKS):
        if n % 5 < 3:
            with Image.open(tmp_path / "out" / f"{n}.png") as image:
                assert image.size == (160, 120)


# --- 2. the zombie ---------------------------------------------------------------------------


def test_a_frozen_worker_past_its_ttl_cannot_complete_its_old_task(chaos_queue, redis_target,
                                                                  tmp_path):
    queue = chaos_queue
    task_id = queue.add_task({"type": "sleep", "seconds": 1.0})
    # STEADY_TTL: presumed dead only once frozen, not before (else it may finish attempt 2).
    with fleet_for(queue, redis_target.url, "zombie", heartbeat_ttl=STEADY_TTL) as fleet:
        (zombie,) = fleet.start(1)
        wait_until(lambda: queue.locate(task_id) == [f"processing:{zombie}"], 30,
                   "the first worker to claim the task")
        stopped_at = time.time()
        os.kill(fleet.pid(zombie), signal.SIGSTOP)  # frozen: no heartbeats, no progress
        held = (queue.locate(task_id), queue.get_task_info(task_id).attempts)
        assert held == ([f"processing:{zombie}"], 1), (
            f"the premise failed: frozen, the zombie should hold attempt 1 of the task, but "
            f"it is in {held[0]} after {held[1]} attempt(s) (reaped before the freeze: a "
            f"heartbeat stalled for over {STEADY_TTL} s?); events: "
            f"{[(e.name, e.worker_id) for e in queue.events(None) if e.task_id == task_id]}")
        (rescuer,) = fleet.start(1)
        wait_until(lambda: queue.locate(task_id) == ["completed"], 60,
                   "the second worker to take the task over and complete it")
        before = queue.client.hgetall(queue.keys.task(task_id))
        result_before = queue.get_result(task_id)
        thawed_at = time.time()
        os.kill(fleet.pid(zombie), signal.SIGCONT)  # it wakes up and finishes its sleep
        refused = wait_until(lambda: [e for e in events_by(queue, "completion_refused")
                                      if e.worker_id == zombie], 30,
                             "the thawed worker's completion to be refused")
        after = queue.client.hgetall(queue.keys.task(task_id))
        fleet.stop()

    requeue = [e for e in events_by(queue, "requeued") if e.task_id == task_id]
    figures = {"tasks": 1, "frozen_s": round(thawed_at - stopped_at, 2),
               "recoveries": len(requeue),
               "recovery_latency_s": round(requeue[0].ts - stopped_at, 3) if requeue else None,
               "completions_refused": len(refused)}
    record_figures("zombie", figures, tmp_path)

    assert [e.worker_id for e in requeue] == [zombie], f"requeued events: {requeue}"
    info = queue.get_task_info(task_id)
    assert (info.worker_id, info.attempts) == (rescuer, 2), (info.worker_id, info.attempts)
    assert after == before, "the stale completion changed the task's record"
    assert queue.get_result(task_id) == result_before == {"slept": 1.0}
    assert_each_completed_once(queue, [task_id])
    assert [e.worker_id for e in events_by(queue, "completed")] == [rescuer]
    assert_nothing_lost(queue, 1)


# --- 3. poison -----------------------------------------------------------------------------


@pytest.mark.parametrize("poison, exit_code", [
    ({"type": "crash"}, 70),  # os._exit: the process vanishes, like a segfault
    ({"type": "exit"}, 3),  # SystemExit raised in the task: the worker's finally blocks run
], ids=["hard-exit", "exception-exit"])
def test_a_poison_task_ends_in_the_dlq_after_max_attempts(chaos_queue, redis_target, tmp_path,
                                                          poison, exit_code):
    queue = chaos_queue
    good = queue.add_tasks([{"type": "sleep", "seconds": 0.02}] * 30)
    bad = queue.add_task(poison, max_attempts=3)
    good += queue.add_tasks([{"type": "noop"}] * 30)
    deaths: list[int | None] = []
    started = time.monotonic()
    with Processes() as procs:
        def start_worker(n: int) -> Any:
            ready = procs.context.Event()
            process = procs.start(run_s5_worker, (f"poison-{n}", redis_target.url,
                                                  queue.queue_name, settings_for(queue), None,
                                                  ready))
            assert ready.wait(15), "a worker did not start"
            return process

        workers = [start_worker(n) for n in range(3)]
        started_count = 3
        # The supervisor: replace every worker that dies, as systemd or Kubernetes would.
        # At most 10 replacements: more would be the infinite loop this test is about.
        while not queue.is_drained():
            assert time.monotonic() - started < 45, f"not drained in 45 s:\n{diagnose(queue)}"
            for index, process in enumerate(workers):
                if not process.is_alive():
                    process.join(1)
                    deaths.append(process.exitcode)
                    assert len(deaths) <= 10, (
                        f"{len(deaths)} workers died and the poison task is still going round "
                        f"({queue.locate(bad)}, attempts {queue.get_task_info(bad).attempts}): "
                        f"an infinite crash loop")
                    workers[index] = start_worker(started_count)
                    started_count += 1
            time.sleep(0.02)
        drained = time.monotonic() - started
        # No more deaths once the poison is in the DLQ (give the workers a moment).
        time.sleep(FAST["heartbeat_ttl"])
        late_deaths = [p.exitcode for p in workers if not p.is_alive()]
        for process in workers:
            os.kill(process.pid, signal.SIGTERM)
        for process in workers:
            process.join(10)

    info = queue.get_task_info(bad)
    figures = {"poison": poison["type"], "tasks": len(good) + 1, "worker_deaths": len(deaths),
               "exit_codes": deaths, "attempts": info.attempts, "max_attempts": 3,
               "recoveries": len([e for e in events_by(queue, "requeued") if e.task_id == bad]),
               "seconds": round(drained, 2), "reason": info.reason}
    record_figures(f"poison_{poison['type']}", figures, tmp_path)

    assert queue.locate(bad) == ["dead_lettered"], f"the poison task is in {queue.locate(bad)}"
    assert info.attempts == 3 and "3 of 3" in (info.reason or ""), (info.attempts, info.reason)
    assert deaths == [exit_code] * 3, f"each attempt should kill one worker: exit codes {deaths}"
    assert late_deaths == [], f"workers died after the poison was dead-lettered: {late_deaths}"
    assert [p.exitcode for p in workers] == [0, 0, 0], "the survivors should stop cleanly"
    assert_each_completed_once(queue, good)
    assert_nothing_lost(queue, len(good) + 1, failed=1)


# --- 4. Redis restarts in the middle of a run ------------------------------------------------


@pytest.fixture
def aof_redis() -> Iterator[ThrowawayRedis]:
    if redis_server_binary() is None:
        if IN_CI:
            pytest.fail("CI=true: redis-server must be installed for the Redis restart test")
        pytest.skip("no redis-server binary on PATH: the Redis restart test needs one "
                    "(sudo apt install redis-server / brew install redis)")
    with ThrowawayRedis(appendonly=True) as server:
        yield server


def test_workers_ride_out_a_redis_restart_and_lose_nothing(aof_redis, tmp_path):
    queue = ledgered_queue(aof_redis.url, "chaos-restart")
    try:
        for n in range(6):
            generated_image(160, 120, seed=n).save(tmp_path / f"img{n}.jpg")
        tasks = [{"type": "sleep", "seconds": 0.05} if n % 2 else
                 {"image_path": str(tmp_path / f"img{n % 6}.jpg"),
                  "output_path": str(tmp_path / "out" / f"{n}.png")} for n in range(120)]
        # Ten attempts: after an outage longer than the TTL every worker looks dead and
        # its task is requeued (then fenced); that must not push anything into the DLQ.
        ids = queue.add_tasks(tasks, max_attempts=10)
        started = time.monotonic()
        with fleet_for(queue, aof_redis.url, "restart", [str(tmp_path)]) as fleet:
            fleet.start(3)
            wait_until(lambda: queue.conservation().completed >= 30, 30, "30 completed tasks")
            done_before = queue.conservation().completed
            down_at = time.monotonic()
            aof_redis.stop(kill=True)  # a crash, not a polite SHUTDOWN
            time.sleep(1.0)  # the outage: the workers must wait and retry, not die
            alive_during = fleet.alive()
            aof_redis.start()
            up_at = time.monotonic()
            try:
                wait_until(queue.is_drained, 30, "the queue to drain after the restart",
                           every=0.05)
            except TimeoutError:
                raise AssertionError(f"not drained 30 s after the restart:\n{diagnose(queue)}") from None
            drained_at = time.monotonic()
            alive_after = fleet.alive()
            fleet.stop()
            exit_codes = [p.exitcode for p in fleet.processes.values()]
        figures = {"tasks": len(ids), "workers": 3, "completed_before_restart": done_before,
                   "outage_s": round(up_at - down_at, 2),
                   "drain_after_restart_s": round(drained_at - up_at, 2),
                   "recoveries": len([e for e in events_by(queue, "requeued")
                                      if e.fields.get("reason") == "worker lost"]),
                   "completions_refused": len(events_by(queue, "completion_refused")),
                   "seconds": round(drained_at - started, 2), "appendfsync": "always"}
        record_figures("redis_restart", figures, tmp_path)

        assert len(alive_during) == 3 and len(alive_after) == 3, \
            f"workers died during the outage: {alive_during} then {alive_after}"
        assert exit_codes == [0, 0, 0], exit_codes
        assert_each_completed_once(queue, ids)
        assert_nothing_lost(queue, len(ids))
        # The outage is a fault for every task in flight: each may run once more.
        check_runs(queue, "redis_restart", tmp_path)
    finally:
        try:
            queue.clear()
        except redis.RedisError:
            pass
        queue.close()


def test_a_claim_whose_reply_was_lost_does_not_strand_the_task(chaos_queue):
    """The restart test's rare failure, replayed deterministically.

    When the connection drops after Redis ran a worker's BLMOVE but before the reply
    arrived (a Redis crash, a network cut; redis-py then retries the command on a new
    connection), the id sits in the worker's own list, but the worker never got it.
    The worker is alive and beating, so the reaper leaves its list alone: the worker
    itself must notice the stranger in its list.
    """
    import threading

    from session5_recovery.workers import RedisWorker

    queue = chaos_queue
    task_id = queue.add_task({"type": "noop"})
    queue.register_worker("w-lost-reply")
    # What Redis did before the connection dropped: the move, and no more.
    queue.client.lmove(queue.keys.pending, queue.keys.processing("w-lost-reply"), "RIGHT", "LEFT")
    worker = RedisWorker("w-lost-reply", queue, log=None)
    thread = threading.Thread(target=worker.start, kwargs={"burst": True, "handle_signals": False},
                              daemon=True)
    thread.start()
    try:
        wait_until(lambda: queue.locate(task_id) == ["completed"], 5,
                   f"the stranded task to complete (it is in {queue.locate(task_id)})")
    finally:
        worker.stop()
        thread.join(5)
    assert_each_completed_once(queue, [task_id])
    assert_nothing_lost(queue, 1)


# --- 5. SIGTERM -----------------------------------------------------------------------------


def start_worker_that_says_when_a_sleep_starts(procs: Processes, url: str, queue_name: str,
                                               worker_id: str) -> tuple[Any, Any]:
    """A session 5 worker (STEADY_TTL) and the Event its "sleep" tasks set as they begin.

    The signal tests wait for that Event, not for the claim: a SIGTERM that lands
    between the claim and the start makes the worker hand the task back unstarted.
    """
    ready, sleep_started = procs.context.Event(), procs.context.Event()
    settings = {**FAST, "heartbeat_ttl": STEADY_TTL, "run_ledger": QueueKeys(queue_name).runs}
    process = procs.start(run_s5_worker, (worker_id, url, queue_name, settings, None, ready,
                                          sleep_started))
    assert ready.wait(15), f"worker {worker_id} did not start (exit code {process.exitcode})"
    return process, sleep_started


def test_sigterm_during_a_long_task_finishes_it_and_takes_no_more(chaos_queue, redis_target,
                                                                  tmp_path):
    queue = chaos_queue
    # Long enough to be still running when the SIGTERM lands, on a machine ten times slower.
    long_task = queue.add_task({"type": "sleep", "seconds": 3.0})
    worker = "term-signalled"
    with Processes() as procs:
        process, sleep_started = start_worker_that_says_when_a_sleep_starts(
            procs, redis_target.url, queue.queue_name, worker)
        assert sleep_started.wait(10), f"the long task never started ({queue.locate(long_task)})"
        waiting = queue.add_task({"type": "noop"})  # arrives after the worker is busy
        signalled = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)
        process.join(15)
        exited = time.monotonic() - signalled
        exit_code = process.exitcode
    record_figures("sigterm_once", {"tasks": 2, "task_s": 3.0, "exit_after_signal_s":
                                    round(exited, 2), "exit_code": exit_code}, tmp_path)
    assert exit_code == 0, f"exit code {exit_code}"
    info = queue.get_task_info(long_task)
    assert (info.status.value, info.attempts, info.worker_id) == ("completed", 1, worker)
    assert queue.locate(waiting) == ["pending"], "after the signal the worker must claim nothing"
    names = [e.name for e in queue.events(None) if e.worker_id == worker]
    assert names[-3:] == ["worker_stopping", "completed", "worker_stopped"], names
    c = queue.conservation()
    assert c.holds and (c.completed, c.pending, c.processing) == (1, 1, 0), str(c)


def test_a_second_sigterm_requeues_the_task_and_nothing_is_lost(chaos_queue, redis_target,
                                                                tmp_path):
    queue = chaos_queue
    # Long enough that the worker cannot finish it between the two signals even on a
    # machine ten times slower than usual (they are normally milliseconds apart).
    long_task = queue.add_task({"type": "sleep", "seconds": 4.0})
    worker = "term2-signalled"
    with Processes() as procs, fleet_for(queue, redis_target.url, "term2",
                                         heartbeat_ttl=STEADY_TTL) as fleet:
        process, sleep_started = start_worker_that_says_when_a_sleep_starts(
            procs, redis_target.url, queue.queue_name, worker)
        assert sleep_started.wait(10), f"the long task never started ({queue.locate(long_task)})"
        os.kill(process.pid, signal.SIGTERM)
        # Two signals sent back to back can arrive as one (POSIX does not queue them):
        # wait until the first one has been seen.
        wait_until(lambda: events_by(queue, "worker_stopping"), 5, "the first SIGTERM")
        signalled = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)
        process.join(10)
        exited = time.monotonic() - signalled
        exit_code = process.exitcode
        requeued_state = (queue.locate(long_task), queue.get_task_info(long_task).attempts)
        (finisher,) = fleet.start(1)
        wait_until(lambda: queue.locate(long_task) == ["completed"], 15,
                   "another worker to complete the requeued task")
        fleet.stop()
    record_figures("sigterm_twice", {"tasks": 1, "task_s": 4.0, "exit_after_second_signal_s":
                                     round(exited, 2), "exit_code": exit_code}, tmp_path)
    assert exit_code == 0, f"exit code {exit_code}"
    # "At once" without a stopwatch: the worker was gone with its task unfinished,
    # back in pending (a worker that waited for the task would have completed it).
    assert requeued_state == (["pending"], 0), \
        f"after the second signal: {requeued_state} (expected back in pending, attempt refunded)"
    requeued = [e for e in events_by(queue, "requeued") if e.task_id == long_task]
    assert len(requeued) == 1 and "second stop signal" in requeued[0].fields.get("reason", "")
    info = queue.get_task_info(long_task)
    assert (info.worker_id, info.attempts) == (finisher, 1)
    assert_each_completed_once(queue, [long_task])
    assert_nothing_lost(queue, 1)
