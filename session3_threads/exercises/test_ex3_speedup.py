"""Tests for exercise 3: speedup, efficiency, Amdahl's law and the serial fraction.

Run: pytest session3_threads/exercises/test_ex3_speedup.py
"""

import math

import pytest

from workshop.exercises import load_exercise

ex = load_exercise(__file__)


class TestPart1_SpeedupAndEfficiency:
    def test_speedup_is_sequential_over_parallel(self):
        got = ex.speedup(10.0, 4.0)
        assert got == pytest.approx(2.5), (
            f"speedup(10.0, 4.0) returned {got!r}; a job that took 10 s alone and 4 s in "
            f"parallel ran 10 / 4 = 2.5 times faster")

    def test_slower_in_parallel_gives_less_than_one(self):
        got = ex.speedup(1.0, 1.25)
        assert got == pytest.approx(0.8), (
            f"speedup(1.0, 1.25) returned {got!r}, expected 0.8: when the parallel run is "
            f"slower (threads on pure-Python work), the speedup is below 1")

    def test_speedup_rejects_a_zero_time(self):
        with pytest.raises(ValueError, match="parallel_seconds"):
            ex.speedup(1.0, 0)

    @pytest.mark.parametrize(("sequential", "parallel", "workers", "expected"), [
        (10.0, 4.0, 4, 0.625),   # 2.5x with 4 workers
        (12.0, 4.0, 3, 1.0),     # 3x with 3 workers: perfect
        (10.0, 10.0, 1, 1.0),    # one worker is its own baseline
        (8.0, 4.0, 8, 0.25),     # 2x with 8 workers on a 2-core machine
    ])
    def test_efficiency_is_speedup_per_worker(self, sequential, parallel, workers, expected):
        got = ex.efficiency(sequential, parallel, workers)
        assert got == pytest.approx(expected), (
            f"efficiency({sequential}, {parallel}, workers={workers}) returned {got!r}; the "
            f"speedup is {sequential / parallel:g}, and per worker that is "
            f"{sequential / parallel:g} / {workers} = {expected}. Divide by the workers you "
            f"used, not by the cores the machine has")

    def test_efficiency_rejects_zero_workers(self):
        with pytest.raises(ValueError, match="workers"):
            ex.efficiency(1.0, 1.0, 0)


class TestPart2_Amdahl:
    @pytest.mark.parametrize(("fraction", "workers", "expected"), [
        (0.1, 4, 1 / 0.325),     # 3.0769...
        (0.5, 2, 4 / 3),
        (0.0, 8, 8.0),           # nothing serial: perfect scaling
        (1.0, 8, 1.0),           # all serial: no gain at all
        (0.05, 16, 1 / (0.05 + 0.95 / 16)),
    ])
    def test_amdahl_speedup(self, fraction, workers, expected):
        got = ex.amdahl_speedup(fraction, workers)
        assert got == pytest.approx(expected), (
            f"amdahl_speedup(serial_fraction={fraction}, workers={workers}) returned {got!r}, "
            f"expected {expected:.4f} = 1 / ({fraction} + {1 - fraction:g} / {workers}): the "
            f"serial part takes its full time, only the parallel part (1 - s) is divided by n")

    def test_amdahl_rejects_a_fraction_above_one(self):
        with pytest.raises(ValueError, match="serial_fraction"):
            ex.amdahl_speedup(1.5, 4)

    @pytest.mark.parametrize(("fraction", "expected"), [(0.1, 10.0), (0.25, 4.0), (1.0, 1.0)])
    def test_amdahl_limit(self, fraction, expected):
        got = ex.amdahl_limit(fraction)
        assert got == pytest.approx(expected), (
            f"amdahl_limit({fraction}) returned {got!r}, expected 1 / {fraction} = {expected}: "
            f"with endless workers the parallel part takes no time, the serial part remains")

    def test_amdahl_limit_without_serial_work_is_infinite(self):
        got = ex.amdahl_limit(0.0)
        assert got == math.inf, (
            f"amdahl_limit(0.0) returned {got!r}; with no serial part there is no limit: "
            f"return math.inf (1 / 0 would raise ZeroDivisionError)")


class TestPart3_SerialFraction:
    @pytest.mark.parametrize(("measured", "workers", "expected"), [
        (1.6, 2, 0.25),          # (1/1.6 - 1/2) / (1 - 1/2)
        (2.0, 2, 0.0),           # perfect speedup: nothing serial
        (1.0, 4, 1.0),           # no speedup at all: everything serial
        (3.2, 4, (1 / 3.2 - 0.25) / 0.75),
    ])
    def test_serial_fraction(self, measured, workers, expected):
        got = ex.serial_fraction(measured, workers)
        assert got == pytest.approx(expected), (
            f"serial_fraction(measured_speedup={measured}, workers={workers}) returned "
            f"{got!r}, expected {expected:.4f}. Start from 1/S = s + (1 - s)/n and solve "
            f"for s")

    @pytest.mark.parametrize(("fraction", "workers"), [(0.1, 4), (0.3, 2), (0.02, 16)])
    def test_round_trip_through_amdahl(self, fraction, workers):
        # Uses the exact Amdahl value, not ex.amdahl_speedup, so part 3 stands on its own.
        measured = 1 / (fraction + (1 - fraction) / workers)
        got = ex.serial_fraction(measured, workers)
        assert got == pytest.approx(fraction), (
            f"a serial fraction of {fraction} gives Amdahl's speedup {measured:.4f} on "
            f"{workers} workers, but serial_fraction({measured:.4f}, {workers}) returned "
            f"{got!r}: it should give {fraction} back")

    def test_needs_at_least_two_workers(self):
        with pytest.raises(ValueError, match="workers"):
            ex.serial_fraction(1.0, 1)
