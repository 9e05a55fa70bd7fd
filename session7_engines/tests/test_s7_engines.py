"""Each engine's own worker command runs session 2's image task to completion, on the real Redis.

These start real worker processes (``dramatiq``, ``rq worker``, ``celery worker``
and our Streams consumer), each on a namespace of its own, and check what the
engines' own records say, not only our ledger. Every wait is bounded; no test
asserts a speed.
"""

from __future__ import annotations

import pytest
from PIL import Image

from session7_engines.compare import image_tasks, wait_for
from session7_engines.runners import RUNNERS

pytestmark = [pytest.mark.redis, pytest.mark.multiprocess]

ENGINES = ["dramatiq", "rq", "celery", "streams"]
IMAGES = 20


@pytest.mark.parametrize("engine", ENGINES)
def test_twenty_image_tasks_complete_once_each(engine, redis_target, tmp_path):
    with RUNNERS[engine](redis_target.url, tmp_path) as runner:
        runner.start(2)
        tasks = image_tasks(tmp_path, IMAGES, engine)
        runner.enqueue_many(tasks)
        done = wait_for(lambda: all(runner.ended(t) for t, _ in tasks), 120, every=0.1)
        ends = {t: runner.ended(t) for t, _ in tasks}
        runs = {t: len(runner.runs(t)) for t, _ in tasks}
        namespace = runner.namespace
    assert done, f"{engine}: not every task ended within 120 s: {ends}"
    assert set(ends.values()) == {"completed"}, f"{engine}: where the tasks ended: {ends}"
    assert set(runs.values()) == {1}, f"{engine}: runs per task (expected 1 each): {runs}"
    for _, data in tasks:
        with Image.open(data["output_path"]) as image:
            assert image.size == (320, 240)
    client = redis_target.client(decode_responses=True)
    try:
        leftovers = list(client.scan_iter(match=f"*{namespace}*", count=1000))
    finally:
        client.close()
    assert not leftovers, f"{engine}: keys left behind after close(): {leftovers[:5]}"


def test_a_bad_task_is_kept_with_a_clear_error_and_the_worker_survives(redis_target, tmp_path):
    """A task type nobody knows: RQ parks it in the failed registry; the next task still runs."""
    with RUNNERS["rq"](redis_target.url, tmp_path, profile="defaults") as runner:
        runner.start(1)
        runner.enqueue("bad", {"type": "resize-please"})
        runner.enqueue("good", {"type": "noop"})
        assert wait_for(lambda: runner.ended("bad") and runner.ended("good"), 60)
        assert runner.ended("bad") == "failed job registry"
        assert runner.ended("good") == "completed"
