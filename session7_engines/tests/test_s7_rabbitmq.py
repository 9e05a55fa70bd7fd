"""Dramatiq and Celery on RabbitMQ quorum queues: 20 image tasks, a kill -9, a poison task.

Each engine runs its own worker command (one process) against the real RabbitMQ
(``S7_AMQP_URL``, default 127.0.0.1:5672), on queues and an exchange named after the
run's namespace, deleted at the end. The ledger (in Redis) counts every run.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from session7_engines import settings
from session7_engines.compare import image_tasks, poison, wait_for
from session7_engines.runners import RABBITMQ_ENGINES, RUNNERS

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.redis,
    pytest.mark.multiprocess,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

BOUND_S = 90.0  # every wait below ends long before this unless something is wrong


def scenario(engine: str, redis_url: str, workdir) -> dict:
    """A 1 s task and 20 image tasks; SIGKILL the process running the 1 s task; then poison."""
    with RUNNERS[engine](redis_url, workdir) as runner:
        runner.start(1)
        hit = f"{runner.namespace}-hit"
        images = image_tasks(workdir, 20, runner.namespace)
        runner.enqueue(hit, {"type": "sleep", "seconds": 1.0})
        runner.enqueue_many(images)
        assert wait_for(lambda: runner.holder_pid(hit), BOUND_S), f"{engine}: never started"
        os.kill(runner.holder_pid(hit), signal.SIGKILL)
        ids = [hit] + [task_id for task_id, _ in images]
        drained = wait_for(lambda: runner.supervise() >= 0
                           and all(runner.ended(t) == "completed" for t in ids), BOUND_S, 0.05)
        done = Counter(runner.ledger.done_ids())
        row = {"drained": drained, "done": {t: done[t] for t in ids},
               "runs": {t: len(runner.runs(t)) for t in ids}, "hit": hit,
               "poison": poison(runner, BOUND_S)}
    print(f"\nRABBITMQ {engine}: runs of the hit task {row['runs'][hit]}, poison {row['poison']}")
    return row


@pytest.fixture(scope="module")
def outcomes(redis_target, rabbitmq_url, tmp_path_factory) -> dict[str, dict]:
    """Both engines side by side (each mostly waits for its worker command)."""
    # Folders made before the threads (pytest's first use of its base folder is not
    # thread-safe).
    workdirs = {engine: tmp_path_factory.mktemp(engine.split("+")[0]) for engine in RABBITMQ_ENGINES}

    def run(engine: str) -> dict:
        return scenario(engine, redis_target.url, workdirs[engine])

    with ThreadPoolExecutor(max_workers=len(RABBITMQ_ENGINES)) as pool:
        return dict(zip(RABBITMQ_ENGINES, pool.map(run, RABBITMQ_ENGINES), strict=True))


@pytest.mark.parametrize("engine", RABBITMQ_ENGINES)
def test_every_task_completes_exactly_once_though_a_worker_was_killed(engine, outcomes):
    row = outcomes[engine]
    assert row["drained"], f"{engine}: not every task completed: {row['done']}"
    assert set(row["done"].values()) == {1}, f"{engine}: completions per task {row['done']}"


@pytest.mark.parametrize("engine", RABBITMQ_ENGINES)
def test_only_the_task_that_was_hit_ran_twice(engine, outcomes):
    row = outcomes[engine]
    runs = dict(row["runs"])
    assert runs.pop(row["hit"]) == 2, f"{engine}: the killed task ran {row['runs'][row['hit']]} times"
    assert set(runs.values()) == {1}, f"{engine}: runs per image task {runs}"


@pytest.mark.parametrize("engine", RABBITMQ_ENGINES)
def test_a_poison_task_is_dead_lettered_after_its_delivery_limit(engine, outcomes):
    row = outcomes[engine]["poison"]
    assert row["ended"].startswith("dead-letter exchange"), f"{engine}: {row}"
    assert row["runs"] == settings.MAX_RETRIES, f"{engine}: {row}"
