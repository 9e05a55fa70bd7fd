"""Each engine's own worker command runs session 2's image task to completion, on the real Redis.

These start real worker processes (``dramatiq``, ``rq worker``, ``celery worker``
and our Streams consumer), each on a namespace of its own, and check what the
engines' own records say, not only our ledger. Every wait is bounded; no test
asserts a speed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from session7_engines.compare import image_tasks, wait_for
from session7_engines.runners import RUNNERS

pytestmark = [pytest.mark.redis, pytest.mark.multiprocess]

ENGINES = ["dramatiq", "rq", "celery", "streams"]
IMAGES = 20


@pytest.fixture(scope="module")
def image_runs(redis_target, tmp_path_factory) -> dict[str, dict]:
    """20 image tasks on each engine's worker command (2 processes), the engines side by side."""
    # Folders made before the threads (pytest's first use of its base folder is not
    # thread-safe).
    workdirs = {engine: tmp_path_factory.mktemp(f"images-{engine}") for engine in ENGINES}

    def run(engine: str) -> dict:
        workdir = workdirs[engine]
        with RUNNERS[engine](redis_target.url, workdir) as runner:
            runner.start(2)
            tasks = image_tasks(workdir, IMAGES, engine)
            runner.enqueue_many(tasks)
            done = wait_for(lambda: all(runner.ended(t) for t, _ in tasks), 120, every=0.1)
            return {"done": done, "tasks": tasks, "namespace": runner.namespace,
                    "ends": {t: runner.ended(t) for t, _ in tasks},
                    "runs": {t: len(runner.runs(t)) for t, _ in tasks}}

    with ThreadPoolExecutor(max_workers=len(ENGINES)) as pool:
        return dict(zip(ENGINES, pool.map(run, ENGINES), strict=True))


@pytest.mark.parametrize("engine", ENGINES)
def test_twenty_image_tasks_complete_once_each(engine, image_runs, redis_target):
    result = image_runs[engine]
    ends, runs = result["ends"], result["runs"]
    assert result["done"], f"{engine}: not every task ended within 120 s: {ends}"
    assert set(ends.values()) == {"completed"}, f"{engine}: where the tasks ended: {ends}"
    assert set(runs.values()) == {1}, f"{engine}: runs per task (expected 1 each): {runs}"
    for _, data in result["tasks"]:
        with Image.open(data["output_path"]) as image:
            assert image.size == (320, 240)
    client = redis_target.client(decode_responses=True)
    try:
        leftovers = list(client.scan_iter(match=f"*{result['namespace']}*", count=1000))
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
