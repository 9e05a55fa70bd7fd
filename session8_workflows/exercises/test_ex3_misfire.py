"""Tests for exercise 3: a misfire policy, and a firing id that makes a double harmless.

Run: pytest session8_workflows/exercises/test_ex3_misfire.py

Time is whatever the test says (plain numbers); Redis is fakeredis (conftest.py).
"""

from workshop.exercises import load_exercise

ex = load_exercise(__file__)


class TestPart1_due_times:
    def test_every_due_time_since_the_last_look(self):
        got = ex.due_times(100, 131, 10)
        assert got == [110, 120, 130], f"due_times(100, 131, every=10) returned {got}"

    def test_the_ends(self):
        assert ex.due_times(100, 130, 10) == [110, 120, 130], "a due time equal to now is due"
        assert ex.due_times(110, 115, 10) == [], "a due time equal to last was handled already"

    def test_a_late_look_stays_on_the_grid(self):
        got = ex.due_times(103, 125, 10)
        assert got == [110, 120], (
            f"due_times(103, 125, every=10) returned {got}: due times are multiples of 10 "
            f"from the anchor, whenever the scheduler looked last")
        assert ex.due_times(0, 12, 5, anchor=1) == [1, 6, 11]


class TestPart2_plan:
    DUE = [100, 110, 120, 130]

    def test_on_time_due_times_all_fire(self):
        assert ex.plan([128, 129, 130], now=131, grace=5, policy="skip") == [128, 129, 130]

    def test_catch_up_once_fires_the_latest_missed_once(self):
        got = ex.plan(self.DUE, now=133, grace=5, policy="catch_up_once")
        assert got == [120, 130], (
            f"100, 110 and 120 were missed (older than 5 s) and 130 is on time; "
            f"catch_up_once should fire [120, 130], got {got}")

    def test_skip_fires_none_of_the_missed(self):
        assert ex.plan(self.DUE, now=133, grace=5, policy="skip") == [130]
        assert ex.plan(self.DUE, now=500, grace=5, policy="skip") == []

    def test_the_grace_boundary(self):
        assert ex.plan([100], now=105, grace=5, policy="skip") == [], "5 s old with grace 5: missed"
        assert ex.plan([100], now=104.9, grace=5, policy="skip") == [100]


class TestPart3_fire_once:
    def test_two_schedulers_firing_one_due_time_run_it_once(self, r):
        # A and B both believe they lead (A was frozen past its lease), and look at
        # different moments: both fire due time 120.
        assert ex.fire(r, "report", 120, now=121.0) is True
        assert ex.fire(r, "report", 120, now=123.5) is False, (
            "the same due time, fired by a second scheduler 2.5 s later, was enqueued again")
        assert r.lrange("ex3:pending", 0, -1) == [ex.firing_id("report", 120)]

    def test_each_due_time_and_each_schedule_has_its_own_id(self, r):
        ids = {ex.firing_id("report", 120), ex.firing_id("report", 130),
               ex.firing_id("backup", 120)}
        assert len(ids) == 3, f"firing ids collide: {ids}"
        assert ex.firing_id("report", 120.0) == ex.firing_id("report", 120)
