"""Runs counted per task, every call bounded, finished tasks forgotten.

Every test here that runs workers gives them a run ledger
(``RecoverySettings.run_ledger``: a Redis hash the worker writes one field to per
run, as each run starts) and checks runs per task against its fault model: with no
fault injected, no task may run twice, at any prefetch, with one worker or several,
in threads or in processes. The others check that one worker id rule guards every
door, that batch calls go in chunks of a documented size and are safe to resend,
and that retention (result_ttl, keep_completed, failure_ttl) forgets what it should.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections import Counter

import pytest
import redis

from session5_recovery.workers import (
    QueueKeys,
    RecoverySettings,
    RedisTaskQueue,
    RedisWorker,
    run_worker_process,
)
from session5_recovery.workers.redis_task_queue import COMMAND_CHUNK, COMPLETE_CHUNK, ENQUEUE_CHUNK

pytestmark = pytest.mark.redis

# A stray check (reap_interval) between every two tasks: the moment a prefetched batch
# used to lose its finished-but-not-yet-sent tasks. A long TTL: a busy machine must not
# get a live worker taken for dead (that would be a fault, and these tests inject none).
NO_FAULT = RecoverySettings(heartbeat_interval=0.2, heartbeat_ttl=10.0, reap_interval=0.01,
                            claim_timeout=0.05, backoff_base=0.01, backoff_cap=0.02)
PROCESSES = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def ledger_key(queue_name: str) -> str:
    """The run ledger of one test: the queue's own ``runs`` key, deleted with its keys."""
    return QueueKeys(queue_name).runs


def assert_each_ran_once(queue: RedisTaskQueue, ids: list[str]) -> None:
    runs = queue.run_counts()
    twice = {task: n for task, n in runs.items() if n != 1}
    assert not twice, f"{len(twice)} of {len(ids)} tasks ran more than once: {twice}"
    assert set(runs) == set(ids), f"{len(set(ids) - set(runs))} tasks never ran"
    names = Counter(event.name for event in queue.events(None))
    assert names["claimed"] == len(ids), names
    assert names["requeued"] == 0 and names["completion_refused"] == 0, names
    stats = queue.get_stats()
    assert stats["completed"] == len(ids) and queue.conservation().holds, stats


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("prefetch", [1, 4, 10, 50])
def test_no_task_runs_twice_in_thread_workers(redis_client, queue_name, prefetch, workers):
    settings = NO_FAULT.replace(run_ledger=ledger_key(queue_name))
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name, settings=settings)
    ids = queue.add_tasks([{"type": "noop"}] * 150)
    team = [RedisWorker(f"w{n}", queue, log=None, prefetch=prefetch) for n in range(workers)]
    threads = [threading.Thread(target=w.start, kwargs={"burst": True, "handle_signals": False})
               for w in team]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive(), "a burst worker did not finish"
    assert sum(w.counts.completed for w in team) == len(ids)
    assert sum(w.counts.refused + w.counts.requeued for w in team) == 0
    assert_each_ran_once(queue, ids)


@pytest.mark.multiprocess
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("prefetch", [1, 4, 10, 50])
def test_no_task_runs_twice_in_worker_processes(redis_client, redis_url, queue_name, prefetch,
                                                workers):
    settings = NO_FAULT.replace(run_ledger=ledger_key(queue_name))
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name, settings=settings)
    # Slow enough that a batch is still running when the next stray check comes round.
    ids = queue.add_tasks([{"type": "sleep", "seconds": 0.005}] * 120)
    team = [PROCESSES.Process(target=run_worker_process, args=(f"p{n}", redis_url, queue_name),
                              kwargs={"settings": settings.to_dict(), "prefetch": prefetch},
                              daemon=True) for n in range(workers)]
    for process in team:
        process.start()
    try:
        for process in team:
            process.join(120)
            assert process.exitcode == 0, f"worker process exit code {process.exitcode}"
    finally:
        for process in team:
            if process.is_alive():
                process.kill()
                process.join(5)
    assert_each_ran_once(queue, ids)


# --- one rule per name, at every door ----------------------------------------------------

BAD_NAMES = ["w/1", "two words", "glob*", "{tag}", "", "x" * 201, "caf\u00e9", 7]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_a_bad_worker_id_is_refused_by_every_door_with_the_same_rule(redis_client, queue_name,
                                                                     name):
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name, settings=NO_FAULT)
    with pytest.raises(ValueError) as by_worker:
        RedisWorker(name, queue, log=None)
    with pytest.raises(ValueError) as by_queue:
        queue.get_tasks(name, 1, timeout=0)
    with pytest.raises(ValueError) as as_task_id:
        queue.add_task({"type": "noop"}, task_id=name)
    with pytest.raises(ValueError) as as_queue_name:
        RedisTaskQueue(client=redis_client, queue_name=name)
    rule = "must be 1-200 letters, digits or - _ . : @"
    for error in (by_worker, by_queue, as_task_id, as_queue_name):
        assert rule in str(error.value) and "\n" not in str(error.value), error.value
    assert list(redis_client.scan_iter(match=f"{queue.keys.prefix}*")) == [], "nothing registered"


@pytest.mark.parametrize("flag, value", [("--id", "w/1"), ("--queue", "q/1")])
def test_the_command_line_refuses_a_bad_name_in_one_line(redis_url, queue_name, flag, value):
    import subprocess

    args = [sys.executable, "-m", "session5_recovery.workers", "worker", "--burst",
            "--redis-url", redis_url, "--queue", queue_name, flag, value]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "must be 1-200 letters, digits or - _ . : @" in errors[0], done.stderr


# --- debris of a write cut short ---------------------------------------------------------


def test_a_retry_of_an_image_task_removes_the_temporary_files_of_a_killed_writer(tmp_path):
    from PIL import Image

    from session2_pipeline.core import default_pipeline
    from session5_recovery.workers.handlers import TaskContext, handle_image

    source, output = tmp_path / "in.png", tmp_path / "out" / "a.png"
    Image.new("RGB", (4, 4)).save(source)
    output.parent.mkdir()
    # What SIGKILL during a write leaves: a temporary file named after a process that is gone.
    gone = PROCESSES.Process(target=int)
    gone.start()
    gone.join()
    debris = output.with_name(f".a.png.{gone.pid}.0123abcd.tmp")
    live = output.with_name(f".a.png.{os.getppid()}.89abcdef.tmp")  # a live writer's: kept
    other = output.with_name(f".b.png.{gone.pid}.0123abcd.tmp")  # another output's: kept
    for path in (debris, live, other):
        path.write_bytes(b"half an image")
    data = {"image_path": str(source), "output_path": str(output)}

    def run(attempt: int) -> list[str]:
        handle_image(data, TaskContext("t1", attempt, "w1", default_pipeline(), [tmp_path]))
        return sorted(p.name for p in output.parent.iterdir())

    # A first attempt cannot have been cut short before: it leaves the folder unread.
    assert run(1) == sorted(["a.png", debris.name, live.name, other.name])
    assert run(2) == sorted(["a.png", live.name, other.name])


# --- bounded enqueue, resend-safe ----------------------------------------------------------


def spy_on_enqueue(queue: RedisTaskQueue, fail_after: int | None = None) -> list[int]:
    """Record the size of each enqueue script call; ``fail_after``: time out after that many.

    The timeout comes *after* the call ran on the server, as a real one does when the
    reply is lost: the caller cannot tell whether its tasks were queued.
    """
    sizes: list[int] = []
    real = queue._call

    def call(command, *args, **kwargs):
        reply = real(command, *args, **kwargs)
        if command == "enqueue":
            sizes.append(int(args[0]))
            if fail_after is not None and len(sizes) == fail_after:
                raise redis.TimeoutError("Timeout reading from socket (simulated)")
        return reply

    queue._call = call
    return sizes


def test_add_tasks_goes_in_chunks_of_at_most_the_documented_size(queue):
    sizes = spy_on_enqueue(queue)
    ids = queue.add_tasks([{"type": "noop"}] * (2 * ENQUEUE_CHUNK + 1))
    assert sizes == [ENQUEUE_CHUNK, ENQUEUE_CHUNK, 1]
    assert (len(ids), ids.queued, ids.already) == (2 * ENQUEUE_CHUNK + 1, 2 * ENQUEUE_CHUNK + 1, 0)
    assert queue.get_stats()["pending"] == len(ids)


def test_a_batch_resent_after_a_timeout_is_not_queued_twice(queue):
    items = [{"type": "noop", "n": n} for n in range(2 * ENQUEUE_CHUNK + 7)]
    ids = [f"order-{n}" for n in range(len(items))]
    spy_on_enqueue(queue, fail_after=2)
    with pytest.raises(redis.TimeoutError):
        queue.add_tasks(items, task_ids=ids)
    again = queue.add_tasks(items, task_ids=ids)  # the producer retries, same ids
    assert (again.queued, again.already) == (7, 2 * ENQUEUE_CHUNK)
    stats = queue.get_stats()
    assert stats["enqueued"] == stats["pending"] == len(items), stats


def test_purge_and_replay_all_go_in_bounded_calls(queue):
    ids = queue.add_tasks([{"type": "noop"}] * (COMMAND_CHUNK + 3), max_attempts=1)
    while queue.get_tasks("w1", 100, timeout=0):
        pass
    for task_id in ids:
        queue.mark_failed(task_id, "boom", permanent=True, worker_id="w1")
    assert queue.replay_all() == len(ids)
    while queue.get_tasks("w1", 100, timeout=0):
        pass
    for task_id in ids:
        queue.mark_failed(task_id, "boom", permanent=True, worker_id="w1")
    purges = []
    real = queue._call
    queue._call = lambda command, *args, **kw: (
        purges.append(args) if command == "purge" else None) or real(command, *args, **kw)
    assert queue.purge_dlq() == len(ids)
    assert len(purges) == 2 and all(args == (COMMAND_CHUNK,) for args in purges)
    assert queue.get_stats()["enqueued"] == 0 and queue.conservation().holds


# --- retention ---------------------------------------------------------------------------


def drain(queue: RedisTaskQueue, worker_id: str = "w1") -> None:
    """Claim and complete everything pending, in this thread (no worker process needed)."""
    while tasks := queue.get_tasks(worker_id, 100, timeout=0):
        for task in tasks:
            assert queue.mark_completed(task.id, {"ok": True})


def assert_only_fixed_keys_left(queue: RedisTaskQueue) -> None:
    left = set(queue.client.scan_iter(match=f"{queue.keys.prefix}*"))
    assert left <= set(queue.keys.fixed()), sorted(left - set(queue.keys.fixed()))[:5]


def test_completed_tasks_are_forgotten_after_result_ttl_and_counted_as_expired(
        redis_client, queue_name, settings, fake_clock):
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name,
                           settings=settings.replace(result_ttl=60))
    ids = queue.add_tasks([{"type": "noop"}] * 30)
    drain(queue)
    fake_clock.advance(59)
    assert queue.expire() == (0, 0), "not yet: 59 s of 60"
    fake_clock.advance(1)
    assert queue.expire(limit=20) == (20, 0), "at most `limit` per call"
    queue.maintain()  # the workers' periodic chores do the rest
    c = queue.conservation()
    assert (c.completed, c.expired, c.enqueued) == (0, 30, 30) and c.holds, str(c)
    assert "+ expired 30 = 30 == enqueued 30" in str(c)
    assert queue.get_stats()["expired"] == 30 and queue.get_task_info(ids[0]) is None
    queue.deregister_worker("w1")
    assert_only_fixed_keys_left(queue)


def test_the_hash_of_a_completed_task_expires_on_the_server_by_itself(redis_client, queue_name):
    from workshop.waiting import wait_until

    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name,
                           settings=NO_FAULT.replace(result_ttl=0.2))
    (task_id,) = queue.add_tasks([{"type": "noop"}])
    drain(queue)
    assert 0 < queue.client.pttl(queue.keys.task(task_id)) <= 200
    wait_until(lambda: not queue.client.exists(queue.keys.task(task_id)), 10, "the TTL")
    assert queue.expire() == (1, 0)
    assert queue.conservation().holds and queue.get_stats()["expired"] == 1


def test_keep_completed_keeps_the_newest_n_and_none_keeps_everything(redis_client, queue_name,
                                                                    settings, fake_clock):
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name,
                           settings=settings.replace(result_ttl=None, keep_completed=10))
    ids = queue.add_tasks([{"type": "noop"}] * 25)
    drain(queue)
    fake_clock.advance(10 * 365 * 86400)
    assert queue.expire() == (15, 0)
    assert queue.list_ids("completed") == ids[15:], "the newest ten stay, oldest first"
    assert queue.client.ttl(queue.keys.task(ids[-1])) == -1, "result_ttl None: no TTL"
    assert queue.conservation().holds


def test_dead_lettered_tasks_stay_until_replayed_or_purged_unless_failure_ttl(
        redis_client, queue_name, settings, fake_clock):
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name, settings=settings)
    ids = queue.add_tasks([{"type": "noop"}] * 3)
    for task in queue.get_tasks("w1", 3, timeout=0):
        queue.mark_failed(task.id, "bad", permanent=True)
    fake_clock.advance(10 * 365 * 86400)
    assert queue.expire() == (0, 0) and len(queue.dlq_ids()) == 3, "kept by default"
    timed = RedisTaskQueue(client=redis_client, queue_name=queue_name,
                           settings=settings.replace(failure_ttl=3600))
    assert timed.expire() == (0, 3)
    c = timed.conservation()
    assert (c.dead_lettered, c.expired) == (0, 3) and c.holds and timed.get_task_info(ids[0]) is None


def test_a_big_batch_of_completions_goes_in_bounded_calls_and_is_safe_to_resend(queue):
    ids = queue.add_tasks([{"type": "noop"}] * (2 * COMPLETE_CHUNK + 5))
    assert len(queue.get_tasks("w1", len(ids), timeout=0)) == len(ids)
    sizes: list[int] = []
    real = queue._call

    def call(command, *args, **kwargs):
        if command == "complete_batch":
            sizes.append(len(kwargs["keys"]) - 1)  # minus the worker's list
        return real(command, *args, **kwargs)

    queue._call = call
    done = [(task_id, "") for task_id in ids]
    assert queue.complete_many("w1", done)[0] == [True] * len(ids)
    assert sizes == [COMPLETE_CHUNK, COMPLETE_CHUNK, 5]
    # A resend after a lost reply: every one answers "already", none is counted twice.
    assert queue.complete_many("w1", done)[0] == [True] * len(ids)
    assert queue.list_ids("completed") == ids and queue.conservation().holds
