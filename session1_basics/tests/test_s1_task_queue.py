"""TaskQueue: the API, its errors, and its behaviour under real concurrency.

Threads are synchronised with events and barriers, never with sleeps: to know
that a consumer is really blocked inside ``wait()``, the tests wrap the
condition's ``wait`` (see WaitWatcher). Every wait has a bound, so a bug makes
a test fail instead of hanging the suite.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from session1_basics import (
    InvalidTransitionError,
    Task,
    TaskNotFoundError,
    TaskQueue,
    TaskStatus,
)
from session1_basics import task_queue as task_queue_module
from workshop.testing import Background, FakeClock

BOUND = 5.0  # seconds: far more than any step needs; reached only when something is broken


class WaitWatcher:
    """Counts the calls to ``condition.wait()``, so a test knows a thread is waiting.

    The count goes up while the waiting thread still holds the queue's lock,
    just before ``wait()`` releases it. So once ``until(n)`` has returned, the
    next thread to take the lock (``add_task``, say) runs after that waiter is
    really waiting: no race, no sleep.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, condition: threading.Condition) -> None:
        self.calls = 0
        self._changed = threading.Condition()
        real_wait = condition.wait

        def wait(timeout: float | None = None) -> bool:
            with self._changed:
                self.calls += 1
                self._changed.notify_all()
            return real_wait(timeout)

        monkeypatch.setattr(condition, "wait", wait)

    def until(self, calls: int = 1) -> None:
        with self._changed:
            ok = self._changed.wait_for(lambda: self.calls >= calls, BOUND)
        assert ok, f"expected {calls} thread(s) waiting within {BOUND} s, saw {self.calls}"


def claim(queue: TaskQueue, data: dict[str, Any] | None = None) -> Task:
    """Add a task and claim it at once."""
    queue.add_task(data or {"n": 1})
    task = queue.get_task("worker-1", timeout=0)
    assert task is not None
    return task


class TestAddAndGet:
    def test_add_returns_an_id_at_once(self):
        queue = TaskQueue()
        task_id = queue.add_task({"image_path": "in.jpg"})
        assert isinstance(task_id, str) and task_id
        assert len(queue) == 1
        info = queue.get_task_info(task_id)
        assert (info.status, info.attempts, info.data) == (TaskStatus.PENDING, 0, {"image_path": "in.jpg"})

    def test_get_claims_the_task_for_the_worker(self):
        queue = TaskQueue()
        task_id = queue.add_task({"n": 1})
        task = queue.get_task("worker-7", timeout=0)
        assert task is not None
        assert (task.id, task.status, task.worker_id, task.attempts) == (
            task_id, TaskStatus.PROCESSING, "worker-7", 1)
        assert len(queue) == 0
        assert queue.get_task_info(task_id).status is TaskStatus.PROCESSING

    def test_fifo(self):
        queue = TaskQueue()
        ids = [queue.add_task({"n": n}) for n in range(10)]
        claimed = [queue.get_task("w", timeout=0).id for _ in range(10)]
        assert claimed == ids

    def test_get_with_zero_timeout_on_empty_queue_returns_none_at_once(self):
        queue = TaskQueue()
        start = time.monotonic()
        assert queue.get_task("w", timeout=0) is None
        assert time.monotonic() - start < 1.0

    def test_returned_tasks_are_copies(self):
        queue = TaskQueue()
        task = claim(queue, {"n": 1, "tags": ["a"]})
        task.status = TaskStatus.COMPLETED
        task.data["tags"].append("changed")
        info = queue.get_task_info(task.id)
        assert info.status is TaskStatus.PROCESSING and info.data == {"n": 1, "tags": ["a"]}
        info.attempts = 99
        assert queue.get_task_info(task.id).attempts == 1

    def test_data_is_copied_when_added(self):
        queue = TaskQueue()
        data = {"paths": ["a.jpg"]}
        queue.add_task(data)
        data["paths"].append("b.jpg")
        assert queue.get_task("w", timeout=0).data == {"paths": ["a.jpg"]}

    def test_data_arrives_as_json_would_carry_it(self):
        queue = TaskQueue()
        queue.add_task({"size": (640, 480)})
        assert queue.get_task("w", timeout=0).data == {"size": [640, 480]}

    def test_the_clock_stamps_each_step(self):
        clock = FakeClock(start=100.0)
        queue = TaskQueue(clock=clock)
        task_id = queue.add_task({"n": 1})
        clock.advance(2)
        queue.get_task("w", timeout=0)
        clock.advance(3)
        queue.mark_completed(task_id, {"ok": True})
        info = queue.get_task_info(task_id)
        assert (info.created_at, info.started_at, info.finished_at) == (100.0, 102.0, 105.0)
        assert info.result == {"ok": True}

    def test_mark_failed_keeps_the_error(self):
        queue = TaskQueue()
        task = claim(queue)
        queue.mark_failed(task.id, "ValueError: bad image")
        info = queue.get_task_info(task.id)
        assert (info.status, info.error, info.result) == (TaskStatus.FAILED, "ValueError: bad image", None)

    def test_result_is_optional(self):
        queue = TaskQueue()
        task = claim(queue)
        queue.mark_completed(task.id)
        assert queue.get_task_info(task.id).result is None

    def test_repr_shows_the_counts(self):
        queue = TaskQueue()
        queue.add_task({})
        assert repr(queue) == "TaskQueue(pending=1, processing=0, completed=0, failed=0)"


class TestStats:
    def test_counts_follow_every_change(self):
        queue = TaskQueue()
        assert queue.get_stats() == {"pending": 0, "processing": 0, "completed": 0, "failed": 0,
                                     "total": 0}
        ids = [queue.add_task({"n": n}) for n in range(5)]
        first, second, third = (queue.get_task("w", timeout=0) for _ in range(3))
        queue.mark_completed(first.id)
        queue.mark_failed(second.id, "boom")
        assert queue.get_stats() == {"pending": 2, "processing": 1, "completed": 1, "failed": 1,
                                     "total": 5}
        assert len(queue) == 2
        assert third.id == ids[2]

    def test_refused_calls_do_not_change_the_counts(self):
        queue = TaskQueue()
        task_id = queue.add_task({})
        before = queue.get_stats()
        for call in (lambda: queue.mark_completed(task_id), lambda: queue.add_task("x"),
                     lambda: queue.mark_failed("nope", "e")):
            with pytest.raises((InvalidTransitionError, TypeError, TaskNotFoundError)):
                call()
        assert queue.get_stats() == before


class TestBlockingGet:
    def test_timeout_returns_none_after_about_the_timeout(self):
        queue = TaskQueue()
        start = time.monotonic()
        assert queue.get_task("w", timeout=0.05) is None
        elapsed = time.monotonic() - start
        assert 0.045 <= elapsed < 2.0, (
            f"get_task(timeout=0.05) on an empty queue returned after {elapsed:.3f} s")

    def test_blocked_get_wakes_up_when_a_task_is_added(self, monkeypatch):
        queue = TaskQueue()
        watcher = WaitWatcher(monkeypatch, queue.not_empty)
        consumer = Background(queue.get_task, "worker-1", timeout=BOUND * 2)
        watcher.until(1)
        assert consumer.is_alive(), "get_task returned although the queue was empty"
        added_at = time.monotonic()
        task_id = queue.add_task({"n": 1})
        task = consumer.outcome()
        assert task is not None and task.id == task_id
        assert consumer.returned_at - added_at < BOUND, "it woke up late: add_task must notify"

    def test_get_without_timeout_waits_until_a_task_is_added(self, monkeypatch):
        queue = TaskQueue()
        watcher = WaitWatcher(monkeypatch, queue.not_empty)
        consumer = Background(queue.get_task, "worker-1")
        watcher.until(1)
        task_id = queue.add_task({"n": 1})
        assert consumer.outcome().id == task_id

    def test_a_wake_up_without_a_task_keeps_waiting_until_the_deadline(self, monkeypatch):
        queue = TaskQueue()
        watcher = WaitWatcher(monkeypatch, queue.not_empty)
        start = time.monotonic()
        consumer = Background(queue.get_task, "worker-1", timeout=0.2)
        watcher.until(1)
        with queue.not_empty:
            queue.not_empty.notify_all()  # wakes the consumer, but nothing was added
        assert consumer.outcome() is None
        elapsed = consumer.returned_at - start
        assert 0.19 <= elapsed < 2.0, f"get_task(timeout=0.2) returned after {elapsed:.3f} s"
        assert watcher.calls >= 2, "after the empty wake-up it should have waited again"

    def test_each_wait_gets_only_the_time_that_is_left(self, monkeypatch):
        # Deterministic, without threads: time.monotonic is a fake clock for the queue, and
        # wait() is scripted. The first wait() wakes up early (0.7 s in, nothing added); the
        # second must ask for the 0.3 s that are left, not for the full timeout again.
        clock = FakeClock(start=0.0)
        monkeypatch.setattr(task_queue_module, "time", SimpleNamespace(monotonic=clock))
        queue = TaskQueue(clock=clock)
        asked: list[float | None] = []

        def scripted_wait(timeout: float | None = None) -> bool:
            asked.append(timeout)
            assert len(asked) <= 10, "wait() called again and again: is the deadline re-checked?"
            early = len(asked) == 1
            clock.advance(0.7 if early else timeout)
            return early

        monkeypatch.setattr(queue.not_empty, "wait", scripted_wait)
        assert queue.get_task("w", timeout=1.0) is None
        assert asked == pytest.approx([1.0, 0.3]), f"wait() was asked for {asked} s"
        assert clock() == pytest.approx(1.0), f"gave up after {clock()} s of a 1.0 s timeout"

    def test_each_waiting_consumer_gets_its_own_task(self, monkeypatch):
        queue = TaskQueue()
        watcher = WaitWatcher(monkeypatch, queue.not_empty)
        consumers = [Background(queue.get_task, f"worker-{n}", timeout=BOUND * 2) for n in range(4)]
        watcher.until(4)
        ids = {queue.add_task({"n": n}) for n in range(4)}
        claimed = [consumer.outcome() for consumer in consumers]
        assert {task.id for task in claimed} == ids
        assert {task.worker_id for task in claimed} == {f"worker-{n}" for n in range(4)}


class TestConcurrency:
    PRODUCERS, CONSUMERS, TASKS_EACH = 4, 4, 250

    def test_every_task_is_processed_exactly_once(self):
        # The clock is a counter, called under the queue's lock: started_at gives the claim order.
        ticks = itertools.count()
        queue = TaskQueue(clock=lambda: float(next(ticks)))
        start = threading.Barrier(self.PRODUCERS + self.CONSUMERS)
        producers_done = threading.Event()
        added: list[str] = []
        processed: list[tuple[str, str]] = []  # (task id, worker id), appended by the consumers
        record = threading.Lock()

        def produce(p: int) -> None:
            start.wait(BOUND)
            for seq in range(self.TASKS_EACH):
                task_id = queue.add_task({"producer": p, "seq": seq})
                with record:
                    added.append(task_id)

        def consume(name: str) -> None:
            start.wait(BOUND)
            while True:
                task = queue.get_task(name, timeout=0.01)
                if task is None:
                    if producers_done.is_set() and len(queue) == 0:
                        return
                    continue
                with record:
                    processed.append((task.id, name))
                if task.data["seq"] % 10 == 0:
                    queue.mark_failed(task.id, "every tenth task fails")
                else:
                    queue.mark_completed(task.id, {"by": name})

        producers = [Background(produce, p) for p in range(self.PRODUCERS)]
        consumers = [Background(consume, f"worker-{c}") for c in range(self.CONSUMERS)]
        for producer in producers:
            producer.outcome()
        producers_done.set()
        assert queue.join(timeout=BOUND * 2), f"join() timed out: {queue.get_stats()}"
        for consumer in consumers:
            consumer.outcome()

        total = self.PRODUCERS * self.TASKS_EACH
        counts = Counter(task_id for task_id, _ in processed)
        duplicates = [task_id for task_id, n in counts.items() if n > 1]
        assert not duplicates, f"{len(duplicates)} task(s) were handed to two workers"
        assert set(counts) == set(added) and len(added) == total, "some tasks were never processed"
        failed = self.PRODUCERS * len(range(0, self.TASKS_EACH, 10))
        assert queue.get_stats() == {"pending": 0, "processing": 0, "completed": total - failed,
                                     "failed": failed, "total": total}
        assert len({worker for _, worker in processed}) > 1, "only one consumer ever got work"

        infos = [queue.get_task_info(task_id) for task_id in added]
        for info in infos:
            assert info.attempts == 1 and info.worker_id == (info.result or {"by": info.worker_id})["by"]
        # FIFO under contention: each producer's tasks were claimed in the order it added them.
        by_claim = sorted(infos, key=lambda info: info.started_at)
        for p in range(self.PRODUCERS):
            seqs = [info.data["seq"] for info in by_claim if info.data["producer"] == p]
            assert seqs == list(range(self.TASKS_EACH)), f"producer {p}'s tasks left out of order"


class TestJoin:
    def test_empty_queue_is_done(self):
        assert TaskQueue().join(timeout=0) is True
        assert TaskQueue().join() is True

    @pytest.mark.parametrize("claimed", [False, True], ids=["pending", "processing"])
    def test_unfinished_work_times_out(self, claimed):
        queue = TaskQueue()
        queue.add_task({})
        if claimed:
            queue.get_task("w", timeout=0)
        start = time.monotonic()
        assert queue.join(timeout=0.05) is False
        assert 0.045 <= time.monotonic() - start < 2.0

    def test_finished_work_is_done(self):
        queue = TaskQueue()
        queue.mark_failed(claim(queue).id, "boom")
        queue.mark_completed(claim(queue).id)
        assert queue.join(timeout=0) is True

    def test_every_joiner_wakes_when_the_last_task_finishes(self, monkeypatch):
        queue = TaskQueue()
        first, second = claim(queue), claim(queue)
        watcher = WaitWatcher(monkeypatch, queue.all_done)
        joiners = [Background(queue.join, timeout=BOUND * 2) for _ in range(3)]
        watcher.until(3)
        queue.mark_completed(first.id)
        assert all(joiner.is_alive() for joiner in joiners), "join() returned with a task still processing"
        queue.mark_failed(second.id, "boom")
        assert [joiner.outcome() for joiner in joiners] == [True, True, True]


class TestErrors:
    @pytest.mark.parametrize("call", [
        lambda q: q.mark_completed("no-such-id"),
        lambda q: q.mark_failed("no-such-id", "boom"),
    ], ids=["mark_completed", "mark_failed"])
    def test_unknown_id(self, call):
        with pytest.raises(TaskNotFoundError) as caught:
            call(TaskQueue())
        message = str(caught.value)
        assert "'no-such-id'" in message and "add_task()" in message, message
        assert isinstance(caught.value, KeyError) and caught.value.task_id == "no-such-id"

    def test_get_task_info_answers_none_for_an_unknown_id(self):
        queue = TaskQueue()
        queue.add_task({})
        assert queue.get_task_info("no-such-id") is None

    def test_unhashable_id_is_just_unknown(self):
        assert TaskQueue().get_task_info({"id": 1}) is None
        with pytest.raises(TaskNotFoundError):
            TaskQueue().mark_completed({"id": 1})

    def test_completing_a_pending_task_says_to_claim_it_first(self):
        queue = TaskQueue()
        task_id = queue.add_task({})
        with pytest.raises(InvalidTransitionError) as caught:
            queue.mark_completed(task_id)
        message = str(caught.value)
        assert "from pending to completed" in message and "get_task(worker_id)" in message, message
        assert queue.get_task_info(task_id).status is TaskStatus.PENDING
        assert queue.get_task("w", timeout=0).id == task_id, "the task must still be claimable"

    @pytest.mark.parametrize("second", ["complete", "fail"])
    def test_finishing_twice_is_refused(self, second):
        queue = TaskQueue()
        task = claim(queue)
        queue.mark_completed(task.id, {"v": 1})
        with pytest.raises(InvalidTransitionError, match="already finished"):
            if second == "complete":
                queue.mark_completed(task.id, {"v": 2})
            else:
                queue.mark_failed(task.id, "late")
        info = queue.get_task_info(task.id)
        assert (info.status, info.result, info.error) == (TaskStatus.COMPLETED, {"v": 1}, None)

    @pytest.mark.parametrize("data", ["image.jpg", ["a"], None, 3])
    def test_data_must_be_a_dict(self, data):
        queue = TaskQueue()
        with pytest.raises(TypeError, match=r"task data must be a dict .*Wrap the value"):
            queue.add_task(data)
        assert queue.get_stats()["total"] == 0

    @pytest.mark.parametrize("data", [{"path": object()}, {"tags": {"a"}}, {"x": float("inf")}])
    def test_data_must_be_json(self, data):
        queue = TaskQueue()
        with pytest.raises(TypeError, match="task data must be JSON-serialisable"):
            queue.add_task(data)
        assert queue.get_stats()["total"] == 0 and len(queue) == 0

    def test_result_must_be_json(self):
        queue = TaskQueue()
        task = claim(queue)
        with pytest.raises(TypeError, match="result must be JSON-serialisable"):
            queue.mark_completed(task.id, {"image": object()})
        with pytest.raises(TypeError, match="result must be a dict"):
            queue.mark_completed(task.id, "done")
        assert queue.get_task_info(task.id).status is TaskStatus.PROCESSING

    def test_error_must_be_a_string(self):
        queue = TaskQueue()
        task = claim(queue)
        with pytest.raises(TypeError, match=r"str\(exc\)"):
            queue.mark_failed(task.id, ValueError("boom"))

    @pytest.mark.parametrize("timeout", [-1, -0.5, "5", float("nan")])
    def test_bad_timeouts(self, timeout):
        queue = TaskQueue()
        with pytest.raises(ValueError, match="timeout must be a number of seconds >= 0"):
            queue.get_task("w", timeout=timeout)
        with pytest.raises(ValueError, match="timeout must be a number of seconds >= 0"):
            queue.join(timeout=timeout)

    @pytest.mark.parametrize("worker_id", ["", None, 7])
    def test_worker_id_must_name_the_worker(self, worker_id):
        with pytest.raises(TypeError, match="worker_id must be a non-empty string"):
            TaskQueue().get_task(worker_id, timeout=0)


class TestStorageHooks:
    """Subclasses change the order by overriding only the storage hooks, as in Lib/queue.py."""

    def test_a_lifo_subclass_needs_only_the_hooks(self):
        class LifoTaskQueue(TaskQueue):
            def _init(self) -> None:
                self._stack: list[Task] = []

            def _qsize(self) -> int:
                return len(self._stack)

            def _put(self, task: Task) -> None:
                self._stack.append(task)

            def _get(self) -> Task:
                return self._stack.pop()

        queue = LifoTaskQueue()
        ids = [queue.add_task({"n": n}) for n in range(3)]
        assert [queue.get_task("w", timeout=0).id for _ in range(3)] == ids[::-1]
        assert queue.get_task("w", timeout=0) is None

    def test_a_refusing_put_leaves_the_queue_unchanged(self):
        class PickyQueue(TaskQueue):
            def _put(self, task: Task) -> None:
                if "priority" not in task.data:
                    raise ValueError("needs a priority")
                super()._put(task)

        queue = PickyQueue()
        with pytest.raises(ValueError, match="needs a priority"):
            queue.add_task({})
        assert queue.get_stats()["total"] == 0 and len(queue) == 0
        assert not queue.mutex.locked(), "an error inside the lock must release it"
