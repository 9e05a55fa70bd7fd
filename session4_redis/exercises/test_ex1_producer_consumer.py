"""Tests for exercise 1 (producer and consumer), on in-process fakeredis."""

from __future__ import annotations

from pathlib import Path

import pytest

from session1_basics.task import TaskStatus
from session4_redis.workers import RedisTaskQueue
from workshop.exercises import load_exercise
from workshop.testing import FakeClock

ex = load_exercise(__file__)  # the learner's file, the solution, or a mutant


class SpyQueue(RedisTaskQueue):
    """A RedisTaskQueue that counts how it is called."""

    add_tasks_calls = 0

    def add_tasks(self, items):
        self.add_tasks_calls += 1
        return super().add_tasks(items)


@pytest.fixture
def queue(fake_redis) -> SpyQueue:
    return SpyQueue(client=fake_redis, queue_name="ex1")


def double(data):
    return {"doubled": data["n"] * 2}


def picky(data):
    if data["n"] % 2:
        raise ValueError(f"odd number {data['n']}")
    return {"ok": data["n"]}


class TestPart1_Produce:
    def test_one_task_per_image_in_order(self, queue, tmp_path):
        paths = [tmp_path / "a.jpg", tmp_path / "b.png", tmp_path / "c.jpg"]
        ids = ex.produce(queue, paths, tmp_path / "out")
        assert isinstance(ids, list) and len(ids) == 3, (
            f"produce() with 3 images returned {ids!r}; expected a list of 3 task ids")
        datas = [queue.get_task_info(i).data for i in ids]
        assert [d["image_path"] for d in datas] == [str(p) for p in paths], (
            "each task's image_path should be str(path), in the order the images were given")
        expected = [str(tmp_path / "out" / f"{stem}_processed.png") for stem in ("a", "b", "c")]
        outputs = [d["output_path"] for d in datas]
        assert outputs == expected, (
            f"the output paths were {outputs!r}; expected output_dir / '<stem>_processed.png' "
            f"for each image, its own stem, always .png: {expected!r}")
        assert "filters" not in datas[0], "without filters=..., the task should have no 'filters'"

    def test_filters_are_copied_into_each_task(self, queue, tmp_path):
        ids = ex.produce(queue, [Path("x.jpg"), Path("y.jpg")], tmp_path, ["grayscale"])
        assert [queue.get_task_info(i).data.get("filters") for i in ids] == [["grayscale"]] * 2

    def test_all_tasks_go_in_one_round_trip(self, queue, tmp_path):
        ex.produce(queue, [tmp_path / f"{n}.jpg" for n in range(5)], tmp_path)
        assert queue.add_tasks_calls == 1, (
            f"produce() of 5 images called add_tasks {queue.add_tasks_calls} times "
            f"(add_task calls it once per task); queue them with ONE add_tasks call")

    def test_the_tasks_are_pending_fifo(self, queue, tmp_path):
        ids = ex.produce(queue, [tmp_path / f"{n}.jpg" for n in range(3)], tmp_path)
        claimed = [queue.get_task("w", timeout=0).id for _ in ids]
        assert claimed == ids, "the first image given should be the first task a worker gets"


class TestPart2_Consume:
    def test_processes_everything_and_records_results(self, queue):
        ids = queue.add_tasks([{"n": n} for n in range(4)])
        counts = ex.consume(queue, "c1", double)
        assert counts == {"completed": 4, "failed": 0}, (
            f"consume() on 4 good tasks returned {counts!r}")
        assert queue.get_result(ids[3]) == {"doubled": 6}, (
            "the value handle() returned should be stored with mark_completed(task.id, result)")
        assert queue.get_task_info(ids[0]).worker_id == "c1"

    def test_a_failing_task_is_marked_failed_and_the_consumer_goes_on(self, queue):
        ids = queue.add_tasks([{"n": n} for n in range(5)])
        counts = ex.consume(queue, "c1", picky)
        assert counts == {"completed": 3, "failed": 2}, (
            f"consume() on 5 tasks where handle() raises for 2 returned {counts!r}; "
            f"expected {{'completed': 3, 'failed': 2}}: one bad task must not stop the consumer")
        info = queue.get_task_info(ids[1])
        assert info.status is TaskStatus.FAILED
        assert info.error == "ValueError: odd number 1", (
            f"the failure reason was {info.error!r}; expected '<ExceptionType>: <message>'")
        assert queue.get_stats()["processing"] == 0, "no task may be left in processing"

    def test_max_tasks(self, queue):
        queue.add_tasks([{"n": n} for n in range(5)])
        assert ex.consume(queue, "c1", double, max_tasks=2) == {"completed": 2, "failed": 0}
        assert queue.get_stats()["pending"] == 3

    def test_an_empty_queue_returns_at_once(self, queue):
        assert ex.consume(queue, "c1", double) == {"completed": 0, "failed": 0}


class BoundedSleep:
    """A fake ``sleep`` that advances the fake clock and gives up after ``limit`` calls.

    A loop that never ends (for example a deadline recomputed on every poll) would
    otherwise spin until pytest's timeout, with no word about what went wrong.
    """

    def __init__(self, clock: FakeClock, what: str, limit: int = 100) -> None:
        self.clock, self.what, self.limit = clock, what, limit
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if len(self.calls) > self.limit:
            raise AssertionError(
                f"{self.what}: wait_for_results slept {len(self.calls) - 1} times "
                f"({sum(self.calls[:-1]):g} s on its clock) and is still waiting. Is the "
                f"deadline computed once, before the loop (not again on every poll)?")
        self.clock.advance(seconds)


class TestPart3_WaitForResults:
    def test_returns_when_all_are_finished_completed_or_failed(self, queue):
        clock = FakeClock()
        ids = queue.add_tasks([{"n": n} for n in range(3)])
        bounded = BoundedSleep(clock, "waiting for 3 tasks that finish one per poll")
        sleeps = bounded.calls

        def sleep(seconds):  # each "sleep", a consumer finishes one more task
            bounded(seconds)
            ex_consume_one(queue)

        tasks = ex.wait_for_results(queue, ids, timeout=10, poll_interval=0.5, sleep=sleep,
                                    clock=clock)
        assert sorted(tasks) == sorted(ids)
        assert [tasks[i].status for i in ids] == [TaskStatus.COMPLETED, TaskStatus.FAILED,
                                                 TaskStatus.COMPLETED], (
            "a failed task is finished too: wait_for_results must not wait for it for ever")
        assert sleeps == [0.5, 0.5, 0.5], f"expected 3 waits of poll_interval, got {sleeps}"

    def test_times_out_with_the_number_unfinished(self, queue):
        clock = FakeClock()
        ids = queue.add_tasks([{"n": n} for n in range(2)])
        sleep = BoundedSleep(clock, "timeout=3 with 2 tasks that never finish")
        with pytest.raises(TimeoutError, match="2"):
            ex.wait_for_results(queue, ids, timeout=3, poll_interval=1, sleep=sleep, clock=clock)
        assert clock() - FakeClock()() == pytest.approx(3), (
            "wait_for_results(timeout=3) should give up after 3 s on its clock")


def ex_consume_one(queue):
    task = queue.get_task("helper", timeout=0)
    if task is None:
        return
    if task.data["n"] == 1:
        queue.mark_failed(task.id, "ValueError: one")
    else:
        queue.mark_completed(task.id, {"ok": True})
