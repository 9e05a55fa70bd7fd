"""The session-5 queue, one Lua command at a time, with a fake clock and direct calls.

These need a real Redis (or Valkey): the queue's state changes are Lua scripts,
and fakeredis runs Lua only with the optional ``lupa`` package. No worker
processes and no sleeping: a "dead worker" is one whose heartbeat key the test
deletes, which is exactly what Redis does when the TTL runs out.
"""

import json

import pytest
import redis

from session5_recovery.workers import (
    RecoverySettings,
    RedisTaskQueue,
    TaskStatus,
    backoff_delay,
)

pytestmark = pytest.mark.redis


# settings and queue: the fixtures in conftest.py (a fake clock, a real Redis).


def expire(queue, worker_id):
    """What Redis does when a heartbeat's TTL runs out."""
    queue.client.delete(queue.keys.heartbeat(worker_id))


def names(queue):
    return [e.name for e in queue.events(None)]


def assert_conserved(queue):
    c = queue.conservation()
    assert c.holds, f"conservation broken: {c}"


class TestEnqueueAndClaim:
    def test_enqueue_records_the_task_and_an_event(self, queue, fake_clock):
        task_id = queue.add_task({"type": "noop"})
        info = queue.get_task_info(task_id)
        assert info.status is TaskStatus.PENDING and info.type == "noop"
        assert info.attempts == 0 and info.max_attempts == 3
        assert info.created_at == fake_clock()
        assert queue.get_stats()["pending"] == 1 and queue.get_stats()["enqueued"] == 1
        (event,) = queue.events()
        assert (event.name, event.task_id, event.ts) == ("enqueued", task_id, fake_clock())
        assert_conserved(queue)

    def test_claim_goes_into_the_workers_own_list_and_counts_the_attempt(self, queue):
        task_id = queue.add_task({"type": "noop"})
        task = queue.get_task("w1", timeout=0)
        assert task.id == task_id and task.attempts == 1 and task.status is TaskStatus.PROCESSING
        assert queue.locate(task_id) == ["processing:w1"]
        assert queue.client.zscore(queue.keys.workers, "w1") is not None, "the claim registers the worker"
        assert queue.client.exists(queue.keys.heartbeat("w1")), "claiming is a sign of life"
        claimed = queue.events()[-1]
        assert (claimed.name, claimed.worker_id, claimed.attempt) == ("claimed", "w1", 1)
        assert_conserved(queue)

    def test_get_task_info_answers_none_for_an_unknown_id(self, queue):
        queue.add_task({"type": "noop"})
        assert queue.get_task_info("no-such-id") is None  # as in sessions 1 and 4

    def test_fifo(self, queue):
        ids = queue.add_tasks([{"type": "noop", "n": n} for n in range(5)])
        got = [queue.get_task("w1", timeout=0).id for _ in range(5)]
        assert got == ids

    def test_empty_queue(self, queue):
        assert queue.get_task("w1", timeout=0) is None
        assert queue.get_task("w1", timeout=0.05) is None

    @pytest.mark.parametrize("bad", [[1, 2], "text", {"path": object()}, {"x": float("nan")}])
    def test_enqueue_refuses_non_json(self, queue, bad):
        with pytest.raises(TypeError, match="JSON|dict"):
            queue.add_task(bad)
        assert queue.get_stats()["enqueued"] == 0

    def test_enqueue_refuses_a_huge_payload(self, queue):
        with pytest.raises(ValueError, match="limit"):
            queue.add_task({"blob": "x" * 2_000_000})

    def test_bad_worker_id_and_timeout(self, queue):
        with pytest.raises(ValueError, match="worker_id"):
            queue.get_task("", timeout=0)
        with pytest.raises(ValueError, match="timeout"):
            queue.get_task("w1", timeout=-1)


class TestCompletionFence:
    def test_complete_stores_the_result_once(self, queue):
        task_id = queue.add_task({"type": "noop"})
        queue.get_task("w1", timeout=0)
        assert queue.mark_completed(task_id, {"answer": 42, "path": "out.png"}) is True
        assert queue.get_result(task_id) == {"answer": 42, "path": "out.png"}
        info = queue.get_task_info(task_id)
        assert info.status is TaskStatus.COMPLETED and info.worker_id == "w1"
        assert queue.locate(task_id) == ["completed"]
        # The same worker retrying after a lost reply: accepted, nothing doubled.
        assert queue.mark_completed(task_id, {"answer": 42}, worker_id="w1") is True
        assert queue.locate(task_id) == ["completed"]
        assert names(queue).count("completed") == 1
        assert_conserved(queue)

    def test_a_worker_taken_for_dead_cannot_complete(self, queue):
        task_id = queue.add_task({"type": "noop"})
        queue.register_worker("w1")
        queue.get_task("w1", timeout=0)
        expire(queue, "w1")  # w1 is paused past its TTL...
        recovered = queue.reap()  # ...so the reaper hands its task back
        assert [(r.worker_id, r.task_id, r.outcome) for r in recovered] == [("w1", task_id, "requeued")]
        queue.get_task("w2", timeout=0)
        # w1 wakes up and reports its (stale) result: refused, nothing written.
        assert queue.mark_completed(task_id, {"by": "w1"}, worker_id="w1") is False
        assert queue.get_result(task_id) is None
        assert queue.get_task_info(task_id).worker_id == "w2"
        assert queue.mark_failed(task_id, "late error", worker_id="w1") == "refused"
        assert queue.mark_completed(task_id, {"by": "w2"}, worker_id="w2") is True
        assert queue.get_result(task_id) == {"by": "w2"}
        assert names(queue).count("completed") == 1
        assert names(queue).count("completion_refused") == 2
        assert_conserved(queue)

    def test_finishing_an_unknown_claim_needs_the_worker(self, queue):
        with pytest.raises(ValueError, match="worker_id"):
            queue.mark_completed("nope", {})


class TestReaper:
    def test_live_workers_are_left_alone(self, queue):
        task_id = queue.add_task({"type": "noop"})
        queue.register_worker("w1")
        queue.get_task("w1", timeout=0)
        assert queue.reap() == []
        assert queue.locate(task_id) == ["processing:w1"]

    def test_dead_worker_task_back_at_the_head_of_the_line(self, queue):
        first, second = queue.add_tasks([{"type": "noop"}, {"type": "noop"}])
        queue.get_task("w1", timeout=0)
        expire(queue, "w1")
        queue.reap()
        assert queue.get_task("w2", timeout=0).id == first, "a recovered task is claimed next"
        info = queue.get_task_info(first)
        assert info.attempts == 2, "the lost attempt stays counted"
        assert "lost" in info.history[0]["error"] and info.history[0]["worker"] == "w1"
        assert "w1" not in [w.worker_id for w in queue.workers()]
        events = names(queue)
        assert "worker_lost" in events and "requeued" in events
        assert_conserved(queue)
        after = queue.get_task("w2", timeout=0)
        assert after is not None and after.id == second, "then the rest, in order"
        assert after.attempts == 1 and queue.get_task("w2", timeout=0) is None

    def test_a_task_that_kills_every_worker_ends_in_the_dlq(self, queue):
        task_id = queue.add_task({"type": "crash"}, max_attempts=3)
        for n in range(1, 10):
            if queue.get_task(f"w{n}", timeout=0) is None:
                break
            expire(queue, f"w{n}")
            queue.reap()
        info = queue.get_task_info(task_id)
        assert queue.locate(task_id) == ["dead_lettered"], f"poison task is in {queue.locate(task_id)}"
        assert info.status is TaskStatus.DEAD_LETTERED and info.attempts == 3
        assert "lost in 3 of 3 attempts" in info.reason
        assert len(info.history) == 3
        assert names(queue).count("worker_lost") == 3
        assert_conserved(queue)

    def test_orphan_list_of_an_unregistered_worker_is_found_by_the_full_sweep(self, queue):
        task_id = queue.add_task({"type": "noop"})
        queue.get_task("w1", timeout=0)
        queue.client.zrem(queue.keys.workers, "w1")  # a list outside the registry, by hand
        expire(queue, "w1")
        # Periodic work reads the registry only (O(workers)): it cannot see this list...
        assert not queue.conservation().holds and queue.reap() == []
        # ...the explicit full sweep (a SCAN) can.
        assert queue.conservation(full=True).holds
        assert [r.task_id for r in queue.sweep()] == [task_id]
        assert queue.locate(task_id) == ["pending"]
        assert_conserved(queue)


class TestRetries:
    def test_transient_failure_waits_in_delayed_then_comes_back(self, queue, fake_clock):
        task_id = queue.add_task({"type": "fail"})
        start = fake_clock()
        queue.get_task("w1", timeout=0)
        assert queue.mark_failed(task_id, "TransientTaskError: flaky") == "retry"
        info = queue.get_task_info(task_id)
        expected_delay = backoff_delay(1, queue.settings)  # random 0.5 * base 1.0 = 0.5 s
        assert info.status is TaskStatus.DELAYED and info.due_at == pytest.approx(start + expected_delay)
        assert queue.locate(task_id) == ["delayed"]
        assert queue.promote_due() == 0, "not due yet"
        fake_clock.advance(expected_delay)
        assert queue.promote_due() == 1
        assert queue.locate(task_id) == ["pending"]
        retried = queue.get_task("w1", timeout=0)
        assert retried.attempts == 2
        scheduled = [e for e in queue.events(None) if e.name == "retry_scheduled"][0]
        assert float(scheduled.fields["delay"]) == pytest.approx(expected_delay)
        assert_conserved(queue)

    def test_backoff_grows_and_the_last_attempt_goes_to_the_dlq(self, queue, fake_clock):
        task_id = queue.add_task({"type": "fail"})
        dues = []
        for attempt in (1, 2):
            queue.get_task("w1", timeout=0)
            before = fake_clock()
            assert queue.mark_failed(task_id, f"boom {attempt}") == "retry"
            dues.append(queue.get_task_info(task_id).due_at - before)
            fake_clock.advance(100)
            queue.promote_due()
        assert dues == [pytest.approx(0.5), pytest.approx(1.0)], "0.5 * base * 2**(n-1)"
        queue.get_task("w1", timeout=0)
        assert queue.mark_failed(task_id, "boom 3") == "dead_lettered"
        info = queue.get_task_info(task_id)
        assert info.reason == "failed 3 of 3 attempts; last error: boom 3"
        assert [h["error"] for h in info.history] == ["boom 1", "boom 2", "boom 3"]
        assert queue.locate(task_id) == ["dead_lettered"]
        assert_conserved(queue)

    def test_permanent_errors_skip_the_retries(self, queue):
        task_id = queue.add_task({"image_path": "x"})
        queue.get_task("w1", timeout=0)
        assert queue.mark_failed(task_id, "InvalidTaskError: no output_path", permanent=True) == "dead_lettered"
        info = queue.get_task_info(task_id)
        assert info.attempts == 1 and info.reason.startswith("permanent error, not retried")
        assert info.history[0]["permanent"] is True

    def test_backoff_is_capped(self, settings):
        assert backoff_delay(30, settings) == pytest.approx(0.5 * settings.backoff_cap)
        with pytest.raises(ValueError):
            backoff_delay(0, settings)


class TestDeadLetterQueue:
    def fill(self, queue, n=2):
        ids = queue.add_tasks([{"type": "fail", "n": i} for i in range(n)])
        for task_id in ids:
            queue.get_task("w1", timeout=0)
            queue.mark_failed(task_id, "nope", permanent=True)
        return ids

    def test_replay_gives_fresh_attempts_and_keeps_the_history(self, queue):
        first, second = self.fill(queue)
        assert queue.dlq_ids() == [second, first], "newest first"
        assert queue.replay(first) is True
        assert queue.replay(first) is False, "not in the DLQ any more"
        info = queue.get_task_info(first)
        assert info.status is TaskStatus.PENDING and info.attempts == 0 and info.replays == 1
        assert len(info.history) == 1 and info.reason is None
        assert_conserved(queue)

    def test_replay_all_and_purge(self, queue):
        self.fill(queue, 3)
        assert queue.replay_all() == 3 and queue.dlq_ids() == []
        for _ in range(3):
            task = queue.get_task("w1", timeout=0)
            queue.mark_failed(task.id, "again", permanent=True)
        assert queue.purge_dlq() == 3
        stats = queue.get_stats()
        assert stats["dead_lettered"] == 0 and stats["enqueued"] == 0
        assert_conserved(queue)


class TestShutdownAndRegistry:
    def test_requeue_gives_the_attempt_back(self, queue):
        first, _ = queue.add_tasks([{"type": "noop"}, {"type": "noop"}])
        queue.get_task("w1", timeout=0)
        assert queue.requeue(first, reason="test") is True
        assert queue.get_task_info(first).attempts == 0
        assert queue.get_task("w2", timeout=0).id == first, "back at the head of the line"
        assert_conserved(queue)

    def test_deregister_only_with_an_empty_list(self, queue):
        queue.add_task({"type": "noop"})
        queue.register_worker("w1")
        queue.get_task("w1", timeout=0)
        assert queue.deregister_worker("w1") is False
        assert queue.release_all("w1") == 1
        assert queue.deregister_worker("w1") is True
        assert queue.workers() == [] and not queue.client.exists(queue.keys.heartbeat("w1"))
        assert names(queue)[-1] == "worker_stopped"

    def test_heartbeat_tells_a_worker_it_was_taken_for_dead(self, queue):
        queue.register_worker("w1")
        assert queue.heartbeat("w1") is True
        expire(queue, "w1")
        assert queue.heartbeat("w1") is False
        (info,) = queue.workers()
        assert info.alive and 4.5 < info.ttl_left <= 5.0

    def test_events_carry_the_fields(self, queue):
        task_id = queue.add_task({"type": "noop"})
        queue.register_worker("w1")
        queue.get_task("w1", timeout=0)
        queue.mark_completed(task_id)
        events = queue.events()
        assert [e.name for e in events] == ["enqueued", "worker_started", "claimed", "completed"]
        done = events[-1]
        assert (done.task_id, done.worker_id, done.attempt) == (task_id, "w1", 1)
        later = queue.events(after=events[1].id)
        assert [e.name for e in later] == ["claimed", "completed"]

    def test_clear_deletes_only_this_queue(self, queue, redis_client, queue_name):
        other = RedisTaskQueue(client=redis_client, queue_name=queue_name + "-other")
        try:
            other.add_task({"type": "noop"})
            queue.add_task({"type": "noop"})
            queue.get_task("w1", timeout=0)
            assert queue.clear() > 0
            assert list(redis_client.scan_iter(match=f"{queue_name}:*")) == []
            assert other.get_stats()["pending"] == 1
        finally:
            other.clear()


class TestBadEntries:
    def test_an_id_without_a_task_is_quarantined(self, queue):
        real = queue.add_task({"type": "noop"})
        queue.client.rpush(queue.keys.pending, "pushed-by-hand")  # at the head of the line
        task = queue.get_task("w1", timeout=0)
        assert task is not None and task.id == real, "the worker moves on to the real task"
        info = queue.get_task_info("pushed-by-hand")
        assert info.status is TaskStatus.DEAD_LETTERED and "by hand" in info.reason
        assert_conserved(queue)

    def test_an_id_without_a_task_in_a_dead_workers_list_is_quarantined(self, queue):
        queue.register_worker("w1")
        queue.client.lpush(queue.keys.processing("w1"), "ghost-id")
        expire(queue, "w1")
        assert [(r.task_id, r.outcome) for r in queue.reap()] == [("ghost-id", "dead_lettered")]
        assert queue.locate("ghost-id") == ["dead_lettered"]
        assert_conserved(queue)

    def test_bytes_that_are_not_text_are_quarantined(self, queue, redis_url):
        raw = redis.Redis.from_url(redis_url)
        raw.rpush(queue.keys.pending, b"\xff\xfe\xfa")
        raw.close()
        assert queue.get_task("w1", timeout=0) is None
        (task,) = queue.dlq_tasks()
        assert "not UTF-8" in task.reason and task.data["raw_hex"] == "fffefa"
        assert_conserved(queue)

    def test_data_that_is_not_an_object_is_dead_lettered(self, queue):
        task_id = queue.add_task({"type": "noop"})
        queue.client.hset(queue.keys.task(task_id), "data", json.dumps([1, 2]))
        assert queue.get_task("w1", timeout=0) is None
        assert "not a JSON object" in queue.get_task_info(task_id).reason
        assert_conserved(queue)


def test_a_client_that_returns_bytes_is_refused_in_one_line(redis_url, queue_name):
    raw = redis.Redis.from_url(redis_url)  # decode_responses defaults to False
    try:
        with pytest.raises(ValueError, match=r"decode_responses=True") as refused:
            RedisTaskQueue(client=raw, queue_name=queue_name)
        assert "\n" not in str(refused.value)
    finally:
        raw.close()
    with RedisTaskQueue(url=redis_url, queue_name=queue_name) as own:  # makes its own: text
        assert own.client.get_connection_kwargs()["decode_responses"] is True


def test_fakeredis_without_lupa_gets_a_clear_message(fake_redis):
    pytest.importorskip("fakeredis")
    try:
        import lupa  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="lupa"):
            RedisTaskQueue(client=fake_redis, queue_name="q")
    else:
        pytest.skip("lupa is installed: fakeredis can run the scripts")


class TestSettings:
    def test_defaults_and_round_trip(self):
        s = RecoverySettings()
        assert (s.heartbeat_interval, s.heartbeat_ttl, s.max_attempts) == (1.0, 5.0, 3)
        assert RecoverySettings.from_dict(s.to_dict()) == s
        assert json.dumps(s.to_dict())

    @pytest.mark.parametrize(("changes", "words"), [
        ({"heartbeat_ttl": 1.5}, "twice"),
        ({"heartbeat_interval": 0}, "positive"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"backoff_factor": 0.5}, "backoff_factor"),
    ])
    def test_bad_values_are_explained(self, changes, words):
        with pytest.raises(ValueError, match=words):
            RecoverySettings(**changes)

    def test_unknown_names_are_refused(self):
        with pytest.raises(ValueError, match="unknown setting"):
            RecoverySettings.from_dict({"heartbeat_tll": 3})
