"""The worker in this process (no signals, no kills): handlers, error classes, retries.

Each test fills a queue, runs a burst worker until the queue is drained, and
checks where every task ended and why. Backoff is a few milliseconds so that
retries come back at once; the process tests (test_s5_recovery.py) do the rest.
"""

import threading
import time

import pytest

from session2_pipeline.core import default_pipeline
from session5_recovery.tools import run_report
from session5_recovery.workers import (
    HandlerRegistry,
    Outcome,
    QueueKeys,
    RecoverySettings,
    RedisTaskQueue,
    RedisWorker,
    TaskStatus,
    default_handlers,
)
from session5_recovery.workers.instance import InstanceToken
from workshop.images import make_sample_images

pytestmark = pytest.mark.redis

FAST = RecoverySettings(heartbeat_interval=0.05, heartbeat_ttl=0.5, reap_interval=0.05,
                        claim_timeout=0.05, backoff_base=0.01, backoff_cap=0.02)


@pytest.fixture
def queue(redis_client, queue_name):
    ledger = FAST.replace(run_ledger=QueueKeys(queue_name).runs)  # runs per task, counted
    return RedisTaskQueue(client=redis_client, queue_name=queue_name, settings=ledger)


@pytest.fixture
def images(tmp_path):
    return make_sample_images(tmp_path / "in", count=2)


def run(queue, tmp_path, **kwargs):
    """A burst worker in this thread; every test's images live under tmp_path."""
    worker = RedisWorker("w1", queue, pipeline=default_pipeline(), allowed_dirs=[tmp_path],
                         log=None, **kwargs)
    counts = worker.start(burst=True, handle_signals=False)
    assert queue.conservation().holds, queue.conservation()
    assert queue.workers() == [], "a worker that stops leaves the registry"
    report = run_report(queue)  # no fault here: one run per task, plus its retries
    assert report.holds and report.faults == 0, report
    return counts


def test_image_tasks_are_processed(queue, tmp_path, images):
    ids = queue.add_tasks([
        {"image_path": str(images[0]), "output_path": str(tmp_path / "out" / "a.png")},
        {"image_path": str(images[1]), "output_path": str(tmp_path / "out" / "b.png"),
         "filters": ["grayscale"]},
    ])
    counts = run(queue, tmp_path)
    assert counts.completed == 2
    assert (tmp_path / "out" / "a.png").exists() and (tmp_path / "out" / "b.png").exists()
    result = queue.get_result(ids[1])
    assert result["filters"] == ["grayscale"] and result["output_path"].endswith("b.png")


def test_a_flaky_task_succeeds_on_a_retry(queue, tmp_path):
    task_id = queue.add_task({"type": "fail", "times": 2})
    counts = run(queue, tmp_path)
    info = queue.get_task_info(task_id)
    assert info.status is TaskStatus.COMPLETED and info.attempts == 3
    assert counts.retried == 2 and counts.completed == 1
    assert queue.run_counts() == {task_id: 3}, "three attempts, three runs, no more"
    assert queue.get_result(task_id) == {"succeeded_on_attempt": 3}
    names = [e.name for e in queue.events(None) if e.task_id == task_id]
    assert names == ["enqueued", "claimed", "failed", "retry_scheduled", "requeued",
                     "claimed", "failed", "retry_scheduled", "requeued", "claimed", "completed"]


def test_a_task_that_always_fails_ends_in_the_dlq(queue, tmp_path):
    task_id = queue.add_task({"type": "fail"}, max_attempts=2)
    run(queue, tmp_path)
    info = queue.get_task_info(task_id)
    assert info.status is TaskStatus.DEAD_LETTERED and info.attempts == 2
    assert info.reason.startswith("failed 2 of 2 attempts; last error: TransientTaskError")
    assert len(info.history) == 2


@pytest.mark.parametrize(("data", "words"), [
    ({"image_path": "x.jpg"}, "InvalidTaskError: an image task needs"),
    ({"type": "teleport"}, "UnknownTaskTypeError: unknown task type 'teleport'"),
    ({"image_path": "IMG", "output_path": "OUT/o.png", "filters": ["blurr"]}, "UnknownFilterError"),
    ({"image_path": "IMG", "output_path": "OUT/o.png", "filters": ["blur:radius=99"]},
     "FilterParameterError"),
    ({"image_path": "TXT", "output_path": "OUT/o.png"}, "InvalidImageError"),
    ({"image_path": "IMG", "output_path": "/etc/passwd.png"}, "UnsafePathError"),
    ({"image_path": "../../../../etc/hosts", "output_path": "OUT/o.png"}, "UnsafePathError"),
    ({"type": "sleep", "seconds": -1}, "InvalidTaskError"),
    ({"type": "fail", "times": "two"}, "InvalidTaskError"),
], ids=["missing-field", "unknown-type", "unknown-filter", "bad-parameter", "not-an-image",
        "absolute-path-outside", "traversal", "bad-seconds", "bad-times"])
def test_permanent_errors_go_straight_to_the_dlq(queue, tmp_path, images, data, words):
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture")
    swap = {"IMG": str(images[0]), "TXT": str(text), "OUT": str(tmp_path / "out")}
    data = {k: (v.replace("IMG", swap["IMG"]).replace("TXT", swap["TXT"]).replace("OUT", swap["OUT"])
                if isinstance(v, str) else v) for k, v in data.items()}
    good = queue.add_task({"type": "noop"})
    bad = queue.add_task(data)
    counts = run(queue, tmp_path)
    info = queue.get_task_info(bad)
    assert info.status is TaskStatus.DEAD_LETTERED, f"{data} ended {info.status}"
    assert info.attempts == 1, "a permanent error is not retried"
    assert info.reason.startswith("permanent error, not retried: ") and words in info.reason, info.reason
    assert queue.get_task_info(good).status is TaskStatus.COMPLETED, "the worker keeps going"
    assert counts.dead_lettered == 1


def test_custom_handlers_and_results(queue, tmp_path):
    handlers = default_handlers()

    @handlers.register("add")
    def add(data, context):
        return {"sum": data["a"] + data["b"], "attempt": context.attempt}

    task_id = queue.add_task({"type": "add", "a": 2, "b": 3})
    run(queue, tmp_path, handlers=handlers)
    assert queue.get_result(task_id) == {"sum": 5, "attempt": 1}
    assert "add" in handlers.names() and "image" in handlers.names()


def test_a_result_that_is_not_json_fails_the_task(queue, tmp_path):
    handlers = HandlerRegistry()
    handlers.register("odd")(lambda data, context: {"when": object()})
    task_id = queue.add_task({"type": "odd"}, max_attempts=1)
    run(queue, tmp_path, handlers=handlers)
    assert "JSON" in queue.get_task_info(task_id).reason


def test_the_heartbeat_thread_beats_during_a_busy_task(redis_client, queue_name):
    """A pure-Python task that holds the GIL runs until the heartbeat thread has beaten
    five times during it: beats are counted as events, not in wall time, so a slow
    machine makes the test slower, never red."""
    settings = FAST.replace(heartbeat_interval=0.02, heartbeat_ttl=30.0)
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name, settings=settings)
    beats_during_task = threading.Semaphore(0)
    in_task = threading.Event()
    seen_alive = []
    original = queue.heartbeat

    def counting_heartbeat(worker_id):
        existed = original(worker_id)
        if in_task.is_set():
            seen_alive.append(bool(queue.client.exists(queue.keys.heartbeat(worker_id))))
            beats_during_task.release()
        return existed

    queue.heartbeat = counting_heartbeat
    handlers = HandlerRegistry()

    @handlers.register("spin")
    def spin(data, context):
        in_task.set()
        deadline = time.monotonic() + 60  # a bound for a broken heartbeat, not a speed
        for _ in range(5):
            while not beats_during_task.acquire(blocking=False):  # busy: holds the GIL
                assert time.monotonic() < deadline, "no heartbeat during the busy task"
        in_task.clear()
        return {"spun": True}

    task_id = queue.add_task({"type": "spin"})
    worker = RedisWorker("w1", queue, handlers=handlers, log=None)
    worker.start(burst=True, handle_signals=False)
    assert queue.get_task_info(task_id).status is TaskStatus.COMPLETED
    assert len(seen_alive) >= 5 and all(seen_alive), "the heartbeat key lapsed during the task"
    assert worker.counts.refused == 0
    assert "worker_lost" not in [e.name for e in queue.events(None)]


def test_stop_from_another_thread_finishes_the_current_task(queue, tmp_path):
    # stop() is called while the handler runs, then the handler is let go. Waiting for
    # the claim instead would not do: a stop between the claim and the start makes the
    # worker hand the task back unstarted, as it should.
    running, gate = threading.Event(), threading.Event()
    handlers = default_handlers()

    @handlers.register("gated")
    def gated(data, context):
        running.set()
        gate.wait(30)  # a bound for a broken test, not a speed
        return {"ok": True}

    first = queue.add_task({"type": "gated"})
    second = queue.add_task({"type": "noop"})
    worker = RedisWorker("w1", queue, handlers=handlers, log=None)
    thread = threading.Thread(target=worker.start, kwargs={"burst": False, "handle_signals": False})
    thread.start()
    try:
        assert running.wait(30), "the worker never started the task"
    finally:
        worker.stop()  # while the task runs
        gate.set()
        thread.join(30)
    assert not thread.is_alive()
    assert queue.get_task_info(first).status is TaskStatus.COMPLETED
    assert queue.get_task_info(second).status is TaskStatus.PENDING, "no new claims after stop()"
    assert queue.conservation().holds


def test_process_answers_an_outcome_and_the_pipeline_is_a_keyword(queue):
    ok, bad = queue.add_tasks([{"type": "noop"}, {"type": "no-such-type"}])
    worker = RedisWorker("w1", queue, pipeline=default_pipeline(), log=None)
    assert worker.queue is queue and worker.heartbeat.instance is worker.instance
    assert worker.heartbeat.epoch is worker.epoch
    outcomes = {task.id: worker.process(task) for task in queue.get_tasks("w1", 2, timeout=0)}
    assert outcomes == {ok: Outcome.COMPLETED, bad: Outcome.DEAD_LETTERED}
    assert outcomes[ok] == "completed" and f"{outcomes[bad]}" == "dead_lettered"
    with pytest.raises(TypeError):  # session 4's order: the pipeline is a keyword here
        RedisWorker("w1", default_pipeline(), queue)  # type: ignore[misc]


def test_asking_who_holds_a_worker_id_writes_nothing(queue):
    key = queue.keys.instance("w1")
    token = InstanceToken(queue.client, key, "w1", ttl_ms=5000)
    assert token.holder() is None and not queue.client.exists(key), "a question took the id"
    queue.client.set(key, "other-host/pid 1/abc", px=5000)
    assert token.holder() == "other-host/pid 1/abc"
    assert token.refresh() == "other-host/pid 1/abc", "another's hold is left alone"
    queue.client.delete(key)
    assert token.refresh() is None and queue.client.get(key) == token.token
    assert token.holder() is None, "we hold it: nobody else does"

