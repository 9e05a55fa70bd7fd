"""Tests for exercise 3: retries with exponential backoff and full jitter, and the DLQ decision.

Run: pytest session5_recovery/exercises/test_ex3_retry_backoff.py

Randomness is injected: a test passes ``random=lambda: 0.5`` and knows the
answer, or a seeded ``random.Random(42).random`` to look at a whole crowd.
Redis is fakeredis; time is whatever number the test passes as ``now``.
"""

import random as stdlib_random

import fakeredis
import pytest

from session2_pipeline.core import InvalidImageError, UnknownFilterError, UnsafePathError
from workshop.exercises import load_exercise

ex = load_exercise(__file__)

Q = "ex3"
SETTINGS = {"base": 0.5, "factor": 2.0, "cap": 30.0}


def fixed(value):
    return lambda: value


class TestPart1_backoff_delay:
    @pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (5, 8.0)])
    def test_grows_exponentially(self, attempt, ceiling):
        got = ex.backoff_delay(attempt, **SETTINGS, random=fixed(0.5))
        assert got == pytest.approx(ceiling / 2), (
            f"backoff_delay({attempt}, base=0.5, factor=2, cap=30, random=lambda: 0.5) returned "
            f"{got!r}; expected 0.5 * {ceiling:g} = {ceiling / 2:g} "
            f"(random() times base * factor ** (attempt - 1))")

    @pytest.mark.parametrize("attempt", [7, 20, 60])
    def test_never_waits_longer_than_the_cap(self, attempt):
        got = ex.backoff_delay(attempt, **SETTINGS, random=fixed(0.999))
        assert got <= 30.0, (
            f"backoff_delay({attempt}, ..., cap=30, random=lambda: 0.999) returned {got:,.1f} s; "
            f"expected at most 30 s: without a cap, attempt {attempt} would wait "
            f"{0.5 * 2 ** (attempt - 1):,.0f} s")
        assert got == pytest.approx(0.999 * 30.0), f"expected 0.999 * 30 = 29.97, got {got!r}"

    def test_full_jitter_can_retry_at_once(self):
        got = ex.backoff_delay(4, **SETTINGS, random=fixed(0.0))
        assert got == 0.0, (
            f"backoff_delay(4, ..., random=lambda: 0.0) returned {got!r}; expected 0.0. Full "
            f"jitter draws the whole delay from [0, ceiling): a fixed delay plus a little "
            f"random still sends the crowd back together")

    def test_a_crowd_spreads_over_the_whole_range(self):
        rng = stdlib_random.Random(42)
        delays = [ex.backoff_delay(3, **SETTINGS, random=rng.random) for _ in range(1000)]
        assert min(delays) < 0.1 and max(delays) > 1.9, (
            f"1000 tasks failing their 3rd attempt together got delays from {min(delays):.2f} "
            f"to {max(delays):.2f} s; expected them spread over nearly all of [0, 2) s")
        assert all(0 <= d < 2.0 for d in delays), "every delay after attempt 3 must be in [0, 2) s"


class TestPart2_decide:
    @pytest.mark.parametrize("error", [
        InvalidImageError("cannot read image x.jpg: not an image"),
        UnsafePathError("refusing path '../x'"),
        UnknownFilterError("no filter 'blurr'"),
        ex.PermanentTaskError("missing field image_path"),
    ], ids=lambda e: type(e).__name__)
    def test_permanent_errors_go_to_the_dlq_at_once(self, error):
        assert ex.is_permanent(error), f"is_permanent({error!r}) returned False; expected True"
        got = ex.decide(error, attempts=1, max_attempts=3)
        assert got == "dead_letter", (
            f"decide({type(error).__name__}(...), attempts=1, max_attempts=3) returned {got!r}; "
            f"expected 'dead_letter': retrying cannot fix this error, and two more tries "
            f"would only delay the bad news")

    @pytest.mark.parametrize("error", [ConnectionError("refused"), TimeoutError("slow"),
                                       RuntimeError("flaky")], ids=lambda e: type(e).__name__)
    def test_transient_errors_are_retried(self, error):
        assert not ex.is_permanent(error), f"is_permanent({error!r}) returned True; expected False"
        got = ex.decide(error, attempts=1, max_attempts=3)
        assert got == "retry", f"decide({error!r}, attempts=1, max_attempts=3) returned {got!r}; expected 'retry'"

    @pytest.mark.parametrize(("attempts", "expected"), [(2, "retry"), (3, "dead_letter"),
                                                        (4, "dead_letter")])
    def test_the_last_attempt_goes_to_the_dlq(self, attempts, expected):
        got = ex.decide(ConnectionError("refused"), attempts=attempts, max_attempts=3)
        assert got == expected, (
            f"decide(ConnectionError(...), attempts={attempts}, max_attempts=3) returned "
            f"{got!r}; expected {expected!r}")


@pytest.fixture
def r():
    client = fakeredis.FakeRedis(decode_responses=True)
    yield client
    client.close()


class TestPart3_delayed_set:
    def test_schedule_stores_the_due_time(self, r):
        due = ex.schedule_retry(r, Q, "t1", delay=2.5, now=100.0)
        assert due == 102.5, f"schedule_retry(..., delay=2.5, now=100.0) returned {due!r}; expected 102.5"
        score = r.zscore(f"{Q}:delayed", "t1")
        assert score == 102.5, f"ZSCORE ex3:delayed t1 is {score!r}; expected the due time 102.5"

    def test_only_due_tasks_are_promoted_earliest_first(self, r):
        ex.schedule_retry(r, Q, "a", delay=5.0, now=100.0)   # due 105
        ex.schedule_retry(r, Q, "b", delay=1.0, now=100.0)   # due 101
        ex.schedule_retry(r, Q, "c", delay=10.0, now=100.0)  # due 110
        got = ex.promote_due(r, Q, now=105.0)
        assert got == ["b", "a"], (
            f"tasks due at a=105, b=101, c=110; promote_due(now=105.0) returned {got}; "
            f"expected ['b', 'a'] (due ones only, earliest first; due at exactly now counts)")
        assert r.zrange(f"{Q}:delayed", 0, -1) == ["c"], "c is not due yet and must stay delayed"
        next_up = r.lindex(f"{Q}:pending", -1)
        assert next_up == "b", (
            f"the next task to be claimed (right end of pending) is {next_up!r}; expected 'b', "
            f"the one that was due first (LPUSH in due order)")

    def test_promoting_twice_moves_nothing_twice(self, r):
        ex.schedule_retry(r, Q, "a", delay=1.0, now=100.0)
        ex.promote_due(r, Q, now=101.0)
        again = ex.promote_due(r, Q, now=102.0)
        assert again == [], f"a second promote_due returned {again}; expected [] (a was already moved)"
        assert r.lrange(f"{Q}:pending", 0, -1) == ["a"], "a must be in pending exactly once"
