"""Tests for exercise 3: the scale decision, with time as a number the test passes.

Run: pytest session9_operations/exercises/test_ex3_scale_decision.py
"""

import pytest

from workshop.exercises import load_exercise

ex = load_exercise(__file__)

LIMITS = {"per_worker": 10, "max_age": 30.0, "low": 1, "high": 8}


class TestPart1_wanted:
    @pytest.mark.parametrize(("backlog", "expected"), [(0, 1), (1, 1), (10, 1), (11, 2), (45, 5)])
    def test_the_backlog_rounded_up(self, backlog, expected):
        assert ex.wanted(backlog, 0.0, 1, **LIMITS) == expected

    def test_within_the_bounds(self):
        assert ex.wanted(10_000, 0.0, 1, **LIMITS) == 8
        assert ex.wanted(0, 0.0, 5, **LIMITS) == 1

    def test_an_old_task_asks_for_one_more(self):
        assert ex.wanted(3, 31.0, 2, **LIMITS) == 3
        assert ex.wanted(0, 31.0, 2, **LIMITS) == 1, "an age with nothing pending means nothing"


def decide(backlog=0, age=0.0, current=1, busy=0, now=1_000.0, last_change=0.0, cooldown=60.0):
    return ex.decide(backlog, age, current, busy, now, last_change, cooldown=cooldown, **LIMITS)


class TestPart2_decide:
    def test_up_at_once_even_right_after_a_change(self):
        assert decide(backlog=45, current=1, now=100.0, last_change=99.9) == 5

    def test_down_only_after_the_cooldown(self):
        assert decide(current=5, now=1_059.0, last_change=1_000.0) == 5
        assert decide(current=5, now=1_060.0, last_change=1_000.0) == 1

    def test_never_below_the_busy_workers(self):
        assert decide(current=6, busy=4) == 4

    def test_steady_stays(self):
        assert decide(backlog=20, current=2, busy=2) == 2
