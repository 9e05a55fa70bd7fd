"""Tests for exercise 2 (a real-time monitor), with fakeredis and a fake clock."""

from __future__ import annotations

import pytest

from session4_redis.workers import RedisTaskQueue
from workshop.exercises import load_exercise
from workshop.testing import FakeClock

ex = load_exercise(__file__)  # the learner's file, the solution, or a mutant


def sample(at, pending=0, processing=0, completed=0, failed=0):
    return ex.Sample(at=at, pending=pending, processing=processing, completed=completed,
                     failed=failed)


class TestPart1_TakeSample:
    def test_counts_and_time_come_from_the_queue_and_the_clock(self, fake_redis):
        queue = RedisTaskQueue(client=fake_redis, queue_name="ex2")
        ids = queue.add_tasks([{"n": n} for n in range(4)])
        for _ in range(3):
            queue.get_task("w", timeout=0)
        queue.mark_completed(ids[0])
        queue.mark_failed(ids[1], "boom")
        clock = FakeClock(start=50.0)
        got = ex.take_sample(queue, clock)
        assert got == sample(50.0, pending=1, processing=1, completed=1, failed=1), (
            f"take_sample() on a queue with 1 task in each state at clock 50.0 returned {got!r}")


class TestPart2_Throughput:
    def test_finished_tasks_per_second_between_samples(self):
        rate = ex.throughput(sample(10, completed=100, failed=5), sample(12, completed=104, failed=6))
        assert rate == pytest.approx(2.5), (
            f"5 tasks finished (4 completed + 1 failed) in 2 s, throughput() returned {rate}; "
            f"expected 2.5 tasks/s")

    def test_failed_tasks_count_as_finished(self):
        rate = ex.throughput(sample(0, failed=0), sample(1, failed=3))
        assert rate == pytest.approx(3.0), (
            f"3 tasks failed in 1 s, throughput() returned {rate}; failed tasks are finished "
            f"work too (the worker moved on), expected 3.0")

    def test_it_is_the_change_not_the_totals(self):
        rate = ex.throughput(sample(100, completed=1000), sample(101, completed=1000))
        assert rate == 0, (
            f"nothing finished in the last second but throughput() returned {rate}: use the "
            f"difference between the samples, not the totals")

    def test_samples_out_of_order_are_refused(self):
        with pytest.raises(ValueError):
            ex.throughput(sample(5), sample(5))


class TestPart3_Eta:
    def test_work_left_divided_by_the_rate(self):
        assert ex.eta_seconds(sample(0, pending=8, processing=2), 2.0) == pytest.approx(5.0), (
            "10 tasks left (8 pending + 2 processing) at 2 tasks/s should take 5 s")

    def test_nothing_left_is_zero(self):
        assert ex.eta_seconds(sample(0, completed=5), 0.0) == 0.0

    def test_a_stalled_queue_has_no_eta(self):
        got = ex.eta_seconds(sample(0, pending=3), 0.0)
        assert got is None, (
            f"3 tasks left and a rate of 0 gave {got!r}; expected None (it would never finish), "
            f"not an error")


class TestPart4_Rows:
    def test_rows_with_two_samples(self):
        rows = ex.render_rows(sample(0, pending=8, completed=10),
                              sample(2, pending=3, processing=1, completed=14, failed=1))
        assert rows == [("pending", "3"), ("processing", "1"), ("completed", "14"),
                        ("failed", "1"), ("throughput", "2.5 tasks/s"), ("eta", "2 s")], (
            f"render_rows() returned {rows!r}")

    def test_rows_with_one_sample(self):
        rows = ex.render_rows(None, sample(0, pending=2))
        assert rows[-2:] == [("throughput", "-"), ("eta", "-")], (
            f"without a previous sample the rate is unknown; got {rows[-2:]!r}")

    def test_a_stalled_queue_shows_an_unknown_eta(self):
        rows = ex.render_rows(sample(0, pending=2), sample(1, pending=2))
        assert rows[-2:] == [("throughput", "0.0 tasks/s"), ("eta", "-")], f"got {rows[-2:]!r}"
