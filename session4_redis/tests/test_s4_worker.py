"""RedisWorker: image tasks, per-task filters, bad tasks, burst and forever modes."""

from __future__ import annotations

import threading

import pytest
from PIL import Image

from session1_basics.task import TaskStatus
from session2_pipeline.core import FilterFactory
from session4_redis.workers import RedisTaskQueue, RedisWorker
from workshop.images import generated_image


@pytest.fixture
def queue(fake_redis, fake_clock) -> RedisTaskQueue:
    return RedisTaskQueue(client=fake_redis, queue_name="worker-unit", clock=fake_clock)


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "in.png"
    generated_image(64, 48, seed=1).save(path)
    return path


def quiet_worker(queue, pipeline=None, worker_id="w1") -> RedisWorker:
    return RedisWorker(worker_id, pipeline or FilterFactory.pipeline("blur:radius=1"), queue,
                       log=None)


def test_an_image_task_is_processed_and_its_result_stored(queue, image, tmp_path):
    out = tmp_path / "out" / "result.png"
    task_id = queue.add_task({"image_path": str(image), "output_path": str(out)})
    counts = quiet_worker(queue).start()
    assert (counts.completed, counts.failed) == (1, 0)
    assert Image.open(out).size == (64, 48)
    result = queue.get_result(task_id)
    assert result["output_path"] == str(out)
    assert result["filters"] == ["blur:radius=1.0"]


def test_filters_in_the_task_replace_the_workers_pipeline(queue, image, tmp_path):
    out = tmp_path / "gray.png"
    task_id = queue.add_task({"image_path": str(image), "output_path": str(out),
                              "filters": ["grayscale"]})
    quiet_worker(queue).start()
    assert Image.open(out).mode == "L"
    assert queue.get_result(task_id)["filters"] == ["grayscale"]


@pytest.mark.parametrize("data, reason", [
    ({"image_path": "missing.png", "output_path": "x.png"}, "InvalidImageError"),
    ({"output_path": "x.png"}, "image_path"),
    ({"image_path": "{image}", "output_path": "{out}", "filters": ["blurr"]}, "UnknownFilterError"),
    ({"image_path": "{image}", "output_path": "{out}", "filters": ["blur:radius=99"]}, "radius"),
    ({"image_path": "{image}", "output_path": "{out}", "filters": 7}, "list of specs"),
    ({"type": "teleport"}, "unknown task type 'teleport'"),
    ({"type": "sleep", "seconds": -1}, "seconds"),
])
def test_a_bad_task_fails_with_a_reason_and_the_worker_goes_on(queue, image, tmp_path,
                                                              data, reason):
    data = {k: (v.format(image=image, out=tmp_path / "o.png") if isinstance(v, str) else v)
            for k, v in data.items()}
    bad = queue.add_task(data)
    good = queue.add_task({"type": "noop"})
    counts = quiet_worker(queue).start()
    assert (counts.completed, counts.failed) == (1, 1)
    info = queue.get_task_info(bad)
    assert info.status is TaskStatus.FAILED
    assert reason in info.error, f"failure reason {info.error!r} should mention {reason!r}"
    assert queue.get_task_info(good).status is TaskStatus.COMPLETED


def test_a_text_file_named_like_an_image_fails_clearly(queue, tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_text("not really a photo")
    task_id = queue.add_task({"image_path": str(fake), "output_path": str(tmp_path / "o.png")})
    quiet_worker(queue).start()
    assert queue.get_task_info(task_id).error.startswith("InvalidImageError")


def test_noop_and_sleep_tasks(queue):
    noop = queue.add_task({"type": "noop"})
    nap = queue.add_task({"type": "sleep", "seconds": 0})
    quiet_worker(queue).start()
    assert queue.get_result(noop) is None
    assert queue.get_result(nap) == {"slept": 0}


def test_burst_stops_when_empty_and_counts_are_per_worker(queue):
    queue.add_tasks([{"type": "noop"}] * 5)
    first = quiet_worker(queue, worker_id="a")
    first.start(max_tasks=2)
    second = quiet_worker(queue, worker_id="b")
    second.start()
    assert (first.counts.completed, second.counts.completed) == (2, 3)
    assert queue.get_stats()["pending"] == 0
    ids = queue.list_ids("completed")
    assert sorted(queue.get_task_info(i).worker_id for i in ids) == ["a", "a", "b", "b", "b"]


def test_the_log_names_the_worker_and_the_outcome(queue):
    lines: list[str] = []
    queue.add_task({"type": "noop"})
    queue.add_task({"type": "nope"})
    RedisWorker("w7", None, queue, log=lines.append).start()
    assert any(line.startswith("[w7] completed") for line in lines)
    assert any(line.startswith("[w7] FAILED") and "nope" in line for line in lines)


@pytest.mark.redis
def test_forever_mode_waits_for_tasks_until_stopped(redis_client, queue_name):
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name)
    done = threading.Event()
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if "completed" in line:
            done.set()

    worker = RedisWorker("forever", None, queue, poll_timeout=0.2, log=log)
    thread = threading.Thread(target=worker.start, kwargs={"burst": False})
    thread.start()
    queue.add_task({"type": "noop"})  # arrives while the worker waits
    assert done.wait(5), "the waiting worker did not pick up a task added later"
    worker.stop()
    thread.join(timeout=5)
    assert not thread.is_alive(), "stop() did not end forever mode within a poll_timeout"
    assert worker.counts.completed == 1
