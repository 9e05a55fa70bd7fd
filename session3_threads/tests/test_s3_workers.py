"""The threaded Worker and WorkerPool: exactly once, graceful stop, failures, counts.

Tasks are held in flight with Events (a pipeline that blocks until the test says go),
so "stop while a task runs" is a fact in these tests, not a timing accident.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from session1_basics.task import TaskStatus
from session1_basics.task_queue import TaskQueue
from session2_pipeline.core import FilterPipeline, default_pipeline
from session2_pipeline.filters import BaseFilter
from session3_threads.workers import InvalidTaskError, Worker, WorkerPool, image_task_fields
from workshop.images import make_sample_images

WAIT = 5.0  # an upper bound for things that happen at once when the code is right


class RecordingPipeline:
    """Stands in for FilterPipeline: records every process_file call, fails on request.

    With ``gate`` set, each call first counts itself in ``entered`` and then waits for
    ``gate`` to open, so a test can hold tasks in flight for as long as it likes.
    """

    def __init__(self, gate: threading.Event | None = None, hold_count: int = 0) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.gate = gate
        self.hold_count = hold_count
        self.entered = 0
        self.all_held = threading.Event()  # set when hold_count calls are waiting at the gate

    def process_file(self, input_path, output_path):
        with self._lock:
            self.calls[str(input_path)] += 1
            self.entered += 1
            if self.entered >= self.hold_count:
                self.all_held.set()
        if self.gate is not None and not self.gate.wait(WAIT):
            raise TimeoutError("the test never opened the gate")
        if "bad" in str(input_path):
            raise ValueError(f"cannot process {input_path}")
        return {"input_path": str(input_path), "output_path": str(output_path)}


def add_tasks(queue: TaskQueue, count: int, prefix: str = "img") -> list[str]:
    return [queue.add_task({"image_path": f"{prefix}-{i}.jpg", "output_path": f"out-{i}.png"})
            for i in range(count)]


@pytest.fixture
def pools():
    """Pools made in a test are stopped afterwards, even if the test failed."""
    made: list[WorkerPool] = []
    yield made
    for pool in made:
        pool.stop(timeout=WAIT)


class TestExactlyOnce:
    def test_every_task_is_processed_exactly_once_by_several_threads(self, pools):
        queue = TaskQueue()
        ids = add_tasks(queue, 60)
        pipeline = RecordingPipeline()
        pool = WorkerPool(4, queue, pipeline, poll_timeout=0.05)
        pools.append(pool)
        pool.start()
        assert pool.wait_until_done(timeout=WAIT), f"queue not drained: {queue.get_stats()}"
        assert pool.stop(timeout=WAIT)

        # Each input was processed once, and each id claimed by exactly one worker.
        assert pipeline.calls == Counter({f"img-{i}.jpg": 1 for i in range(60)})
        claimed = Counter(task_id for counts in pool.counts() for task_id in counts.task_ids)
        assert claimed == Counter(dict.fromkeys(ids, 1))
        assert queue.get_stats() == {"pending": 0, "processing": 0, "completed": 60,
                                     "failed": 0, "total": 60}
        assert sum(counts.completed for counts in pool.counts()) == 60
        for task_id in ids:
            info = queue.get_task_info(task_id)
            assert info.worker_id in {worker.worker_id for worker in pool.workers}
            assert info.attempts == 1

    def test_tasks_added_while_the_pool_runs_are_processed(self, pools):
        queue = TaskQueue()
        pipeline = RecordingPipeline()
        pool = WorkerPool(3, queue, pipeline, poll_timeout=0.05).start()
        pools.append(pool)
        add_tasks(queue, 10)
        assert pool.wait_until_done(timeout=WAIT)
        add_tasks(queue, 10, prefix="later")
        assert pool.wait_until_done(timeout=WAIT)
        assert sum(pipeline.calls.values()) == 20 and max(pipeline.calls.values()) == 1


class TestGracefulStop:
    def test_stop_finishes_in_flight_tasks_and_claims_no_more(self, pools):
        queue = TaskQueue()
        ids = add_tasks(queue, 10)
        gate = threading.Event()
        pipeline = RecordingPipeline(gate=gate, hold_count=3)
        pool = WorkerPool(3, queue, pipeline, poll_timeout=0.05).start()
        pools.append(pool)
        assert pipeline.all_held.wait(WAIT), "the 3 workers never all started a task"

        # Three tasks are in flight and held there. A stop with a short timeout must
        # report that the threads are still finishing, without abandoning anything.
        assert pool.stop(timeout=0.05) is False
        assert pool.stop_event.is_set()
        assert queue.get_stats()["processing"] == 3

        gate.set()
        assert pool.stop(timeout=WAIT) is True
        assert not pool.is_running()
        stats = queue.get_stats()
        assert stats == {"pending": 7, "processing": 0, "completed": 3, "failed": 0,
                         "total": 10}, "in-flight tasks must finish and the rest stay pending"
        assert sum(pipeline.calls.values()) == 3
        done = [task_id for task_id in ids
                if queue.get_task_info(task_id).status == TaskStatus.COMPLETED]
        assert done == ids[:3], "FIFO: the three oldest tasks were the ones in flight"

    def test_stop_while_a_real_pipeline_is_saving_leaves_no_partial_file(self, tmp_path, pools):
        """A real FilterPipeline, held inside a filter: outputs are whole or absent."""
        gate = threading.Event()
        entered = threading.Event()

        class HoldFilter(BaseFilter):
            name = "hold"

            def apply(self, image: Image.Image) -> Image.Image:
                entered.set()
                assert gate.wait(WAIT), "the test never opened the gate"
                return image.copy()

        images = make_sample_images(tmp_path / "in", count=4, include_photo=False)
        out = tmp_path / "out"
        queue = TaskQueue()
        for image in images:
            queue.add_task({"image_path": str(image), "output_path": str(out / f"{image.stem}.png")})
        pool = WorkerPool(1, queue, FilterPipeline([HoldFilter()]), poll_timeout=0.05).start()
        pools.append(pool)
        assert entered.wait(WAIT)
        assert pool.stop(timeout=0.05) is False  # held inside the filter
        gate.set()
        assert pool.stop(timeout=WAIT) is True

        written = sorted(out.iterdir())
        assert [path.name for path in written] == [f"{images[0].stem}.png"], (
            "only the task in flight is finished, and no temporary file is left behind")
        with Image.open(written[0]) as result:
            result.load()  # a complete, readable PNG
        assert queue.get_stats()["pending"] == 3

    def test_idle_pool_stops_promptly_and_cannot_restart(self, pools):
        pool = WorkerPool(2, TaskQueue(), RecordingPipeline(), poll_timeout=0.05).start()
        pools.append(pool)
        assert pool.stop(timeout=WAIT) is True
        with pytest.raises(RuntimeError, match="create a new WorkerPool"):
            pool.start()

    def test_context_manager_starts_and_stops(self):
        queue = TaskQueue()
        add_tasks(queue, 5)
        with WorkerPool(2, queue, RecordingPipeline(), poll_timeout=0.05) as pool:
            assert pool.wait_until_done(timeout=WAIT)
        assert not pool.is_running()
        assert pool.totals()["completed"] == 5


class TestFailures:
    def test_failing_task_is_marked_failed_and_the_worker_goes_on(self):
        queue = TaskQueue()
        good_1 = queue.add_task({"image_path": "a.jpg", "output_path": "a.png"})
        bad = queue.add_task({"image_path": "bad.jpg", "output_path": "b.png"})
        good_2 = queue.add_task({"image_path": "c.jpg", "output_path": "c.png"})
        worker = Worker("solo", queue, RecordingPipeline(), poll_timeout=0.05).start()
        try:
            assert queue.join(timeout=WAIT)
        finally:
            assert worker.stop(timeout=WAIT)
        assert queue.get_task_info(good_1).status == TaskStatus.COMPLETED
        assert queue.get_task_info(good_2).status == TaskStatus.COMPLETED
        failed = queue.get_task_info(bad)
        assert failed.status == TaskStatus.FAILED
        assert failed.error == "ValueError: cannot process bad.jpg"
        assert (worker.counts.completed, worker.counts.failed) == (2, 1)

    def test_a_real_broken_image_fails_with_a_clear_message(self, tmp_path):
        broken = tmp_path / "broken.jpg"
        broken.write_text("not a jpeg")
        queue = TaskQueue()
        task_id = queue.add_task({"image_path": str(broken),
                                  "output_path": str(tmp_path / "out.png")})
        worker = Worker("w", queue, default_pipeline(), poll_timeout=0.05).start()
        assert queue.join(timeout=WAIT)
        assert worker.stop(timeout=WAIT)
        error = queue.get_task_info(task_id).error
        assert error.startswith("InvalidImageError: ") and "broken.jpg" in error
        assert not (tmp_path / "out.png").exists()

    @pytest.mark.parametrize(("data", "fragment"), [
        ({"output_path": "o.png"}, "'image_path'"),
        ({"image_path": "i.jpg", "output_path": ""}, "'output_path'"),
        ({"image_path": "i.jpg", "output_path": "o.png", "filters": [1, 2]}, "filter specs"),
    ])
    def test_invalid_task_data_is_named(self, data, fragment):
        with pytest.raises(InvalidTaskError, match=fragment):
            image_task_fields(data)

    def test_unknown_filter_in_a_task_fails_only_that_task(self, tmp_path):
        image = make_sample_images(tmp_path, count=1, include_photo=False)[0]
        queue = TaskQueue()
        bad = queue.add_task({"image_path": str(image), "output_path": str(tmp_path / "x.png"),
                              "filters": ["sparkle"]})
        good = queue.add_task({"image_path": str(image), "output_path": str(tmp_path / "y.png"),
                               "filters": ["grayscale"]})
        worker = Worker("w", queue, default_pipeline(), poll_timeout=0.05).start()
        assert queue.join(timeout=WAIT)
        assert worker.stop(timeout=WAIT)
        assert queue.get_task_info(bad).error.startswith("UnknownFilterError: ")
        result = queue.get_task_info(good).result
        assert result["filters"] == ["grayscale"]
        with Image.open(tmp_path / "y.png") as output:
            assert output.mode == "L"


class TestRealImages:
    def test_pool_processes_sample_images_with_the_default_pipeline(self, tmp_path):
        images = make_sample_images(tmp_path / "in", count=5)
        queue = TaskQueue()
        for image in images:
            queue.add_task({"image_path": str(image),
                            "output_path": str(tmp_path / "out" / f"{image.stem}.png")})
        with WorkerPool(2, queue, default_pipeline(), poll_timeout=0.05) as pool:
            assert pool.wait_until_done(timeout=30)
        assert queue.get_stats()["completed"] == 5
        outputs = sorted((tmp_path / "out").glob("*.png"))
        assert len(outputs) == 5
        for output, image in zip(outputs, sorted(images), strict=True):
            with Image.open(output) as result, Image.open(image) as source:
                assert result.mode == "L" and result.size == source.size
        totals = pool.totals()
        assert totals["completed"] == 5 and totals["busy_seconds"] > 0


def test_worker_and_pool_reject_bad_arguments():
    with pytest.raises(ValueError, match="poll_timeout"):
        Worker("w", TaskQueue(), RecordingPipeline(), poll_timeout=0)
    with pytest.raises(ValueError, match="number of worker threads"):
        WorkerPool(0, TaskQueue(), RecordingPipeline())


def test_output_path_is_a_path_in_results(tmp_path: Path):
    """The result stored on the task is the pipeline's JSON-ready summary."""
    image = make_sample_images(tmp_path, count=1, include_photo=False)[0]
    queue = TaskQueue()
    task_id = queue.add_task({"image_path": str(image), "output_path": str(tmp_path / "o.png")})
    worker = Worker("w", queue, default_pipeline())
    task = queue.get_task("w", timeout=0)
    assert worker.process(task) is True
    result = queue.get_task_info(task_id).result
    assert result["output_path"] == str(tmp_path / "o.png")
    assert result["filters"] == default_pipeline().specs()
