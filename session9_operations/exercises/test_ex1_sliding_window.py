"""Tests for exercise 1: a sliding-window rate limiter in one Lua script.

Run: pytest session9_operations/exercises/test_ex1_sliding_window.py

A real Redis (the script runs there); time is the number each test passes as ``now``.
"""

import pytest

from session9_operations.ratelimit import max_starts_in_any_window
from workshop.exercises import load_exercise

ex = load_exercise(__file__)

pytestmark = pytest.mark.redis


@pytest.fixture
def key(redis_client, queue_name):
    return f"{queue_name}:starts"


def acquire(redis_client, key, now, member, limit=3, window=10.0):
    return ex.acquire(redis_client, key, limit, window, now, member)


class TestPart1_window:
    def test_allows_the_limit_then_refuses(self, redis_client, key):
        got = [acquire(redis_client, key, 100.0 + i, f"m{i}")[0] for i in range(4)]
        assert got == [True, True, True, False], (
            f"with a limit of 3 per 10 s, four starts one second apart gave {got}")

    def test_the_refusal_says_when_the_oldest_leaves(self, redis_client, key):
        for i in range(3):
            acquire(redis_client, key, 100.0 + i, f"m{i}")
        allowed, retry_at = acquire(redis_client, key, 103.5, "late")
        assert not allowed and retry_at == pytest.approx(110.0), (
            f"the oldest start was at 100.0 and the window is 10 s: retry_at should be 110.0, "
            f"got {retry_at}")

    def test_room_again_exactly_when_promised(self, redis_client, key):
        for i in range(3):
            acquire(redis_client, key, 100.0 + i, f"m{i}")
        assert acquire(redis_client, key, 110.0, "on-time")[0], (
            "at retry_at the oldest start has left the window [now - window, now): "
            "a start exactly one window old no longer counts")

    def test_a_refusal_is_not_a_start(self, redis_client, key):
        for i in range(3):
            acquire(redis_client, key, 100.0, f"m{i}")
        for i in range(20):
            acquire(redis_client, key, 101.0 + i * 0.1, f"refused{i}")
        assert acquire(redis_client, key, 110.0, "after")[0], (
            "refused starts were recorded: only allowed starts belong in the window")

    def test_never_more_than_the_limit_in_any_window(self, redis_client, key):
        starts = []
        for i in range(400):
            now = 1000.0 + i * 0.25
            if acquire(redis_client, key, now, f"m{i}")[0]:
                starts.append(now)
        assert max_starts_in_any_window(starts, 10.0) == 3
        assert len(starts) == 30, f"100 s at 3 per 10 s should allow 30 starts, got {len(starts)}"


class TestPart2_acquire:
    def test_returns_a_bool_and_a_float(self, redis_client, key):
        allowed, at = acquire(redis_client, key, 123.25, "m")
        assert allowed is True and at == 123.25

    def test_keys_are_apart(self, redis_client, key):
        for i in range(3):
            acquire(redis_client, key, 100.0, f"m{i}")
        assert acquire(redis_client, key + "-other", 100.0, "x")[0]
