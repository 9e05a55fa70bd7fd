"""The database is the long-term record: a task whose Redis copy has expired still answers.

Session 5's queue forgets a finished task after ``result_ttl`` (its hash expires by
itself, then the ``expire`` chore takes its id out of the lists and counts it as
expired). The API reads its rows, not Redis, so ``GET /tasks/{id}`` and its
``/result`` must keep answering with the completed state, and the event follower,
which hears the ``expired`` event, must leave the rows as they were.

Both ways a copy goes are made to happen now, without waiting: one task's hash is
deleted (what Redis does when its TTL fires), the other is aged past ``result_ttl`` by
a clock the test sets.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from session5_recovery.workers import RedisTaskQueue, RedisWorker

# The rows are read by id and the follower's update is fenced by the store: both are
# covered on PostgreSQL by test_s6_api.py; what is new here is what Redis forgets.
pytestmark = [pytest.mark.redis, pytest.mark.databases("sqlite"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_a_task_whose_redis_copy_expired_still_answers_from_the_database(api):
    ids = [api.client.post("/tasks", json={"image": "photo_grace_hopper.jpg",
                                           "filters": ["grayscale"]}).json()["id"]
           for _ in range(2)]
    api.pump()
    worker = RedisWorker("worker-1", api.backends.queue,
                         allowed_dirs=[api.config.data_dir], log=None)
    worker.start(burst=True, handle_signals=False)
    api.pump()
    before = {task_id: api.client.get(f"/tasks/{task_id}").json() for task_id in ids}
    assert [view["status"] for view in before.values()] == ["completed", "completed"], before
    results = {task_id: api.client.get(f"/tasks/{task_id}/result").content for task_id in ids}

    queue = api.backends.queue
    deleted, aged = ids
    queue.client.delete(queue.keys.task(deleted))  # its TTL fired
    finished_at = queue.get_task_info(aged).finished_at
    ttl = queue.settings.result_ttl
    assert ttl is not None, "session 6 keeps session 5's default retention"
    later = queue.settings.replace(clock=lambda: finished_at + ttl)
    forgetting = RedisTaskQueue(client=queue.client, queue_name=queue.keys.name, settings=later)
    assert forgetting.expire() == (2, 0), "both copies are forgotten by the queue"
    assert queue.get_task_info(deleted) is None and queue.get_task_info(aged) is None
    assert queue.get_stats()["expired"] == 2 and queue.conservation().holds

    api.pump()  # the follower reads the "expired" event
    assert [event.name for event in queue.events(None)][-1] == "expired"
    api.backends.sync.reconcile()  # and a reconciliation finds no hash to copy
    for task_id in ids:
        view = api.client.get(f"/tasks/{task_id}")
        assert view.status_code == 200, view.text
        assert view.json() == before[task_id], "the row was left as it was"
        result = api.client.get(f"/tasks/{task_id}/result")
        assert result.status_code == 200, result.text
        assert result.content == results[task_id]
        assert Image.open(io.BytesIO(result.content)).mode == "L"
    assert api.backends.store.get(deleted).status == "completed"
