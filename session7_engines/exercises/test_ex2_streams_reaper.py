"""Tests for exercise 2: the Streams reaper with XAUTOCLAIM and a dead-letter stream.

Run: pytest session7_engines/exercises/test_ex2_streams_reaper.py

Redis is fakeredis (streams and consumer groups work there); ``min_idle_ms=0``
makes every pending entry stale at once, so no test waits for a clock.
"""

import fakeredis
import pytest

from workshop.exercises import load_exercise

ex = load_exercise(__file__)

S, G, DEAD = "ex2:stream", "workers", "ex2:dead"


@pytest.fixture
def r():
    client = fakeredis.FakeRedis(decode_responses=True)
    client.xgroup_create(S, G, id="0", mkstream=True)
    yield client
    client.close()


def read_as(r, consumer):
    """``consumer`` reads one new entry (and then, say, dies holding it)."""
    (_, entries), = r.xreadgroup(G, consumer, {S: ">"}, count=1)
    return entries[0][0]


def owner(r, entry_id):
    info = r.xpending_range(S, G, min=entry_id, max=entry_id, count=1)
    return info[0]["consumer"] if info else None


class TestPart1_reap:
    def test_takes_over_a_dead_consumers_entry_and_counts_the_delivery(self, r):
        entry = r.xadd(S, {"task_id": "t1"})
        read_as(r, "dead")
        got = ex.reap(r, S, G, "reaper", min_idle_ms=0, count=10)
        assert got == [(entry, {"task_id": "t1"}, 2)], (
            f"reap(...) after 'dead' read t1 returned {got!r}; expected "
            f"[({entry!r}, {{'task_id': 't1'}}, 2)]: the take-over is delivery 2")
        assert owner(r, entry) == "reaper", "the entry must now be pending under the reaper"

    def test_leaves_entries_that_are_not_stale_yet(self, r):
        r.xadd(S, {"task_id": "t1"})
        read_as(r, "busy")
        got = ex.reap(r, S, G, "reaper", min_idle_ms=60_000, count=10)
        assert got == [], f"an entry idle for less than min_idle_ms was taken: {got!r}"

    def test_does_not_touch_entries_nobody_has_read(self, r):
        r.xadd(S, {"task_id": "new"})
        got = ex.reap(r, S, G, "reaper", min_idle_ms=0, count=10)
        assert got == [], (f"reap took an entry nobody had read yet: {got!r}; new entries "
                           f"are XREADGROUP's, the reaper only takes pending ones")


class TestPart2_dead_letter:
    def test_moves_the_entry_and_acks_it(self, r):
        entry = r.xadd(S, {"task_id": "t1", "data": "{}"})
        read_as(r, "w")
        ex.dead_letter(r, S, G, DEAD, entry, {"task_id": "t1", "data": "{}"}, "poison")
        (_, fields), = r.xrange(DEAD)
        assert fields == {"task_id": "t1", "data": "{}", "reason": "poison"}, fields
        assert r.xpending(S, G)["pending"] == 0, (
            "the entry is still pending after dead_letter: XACK it, or the reaper will "
            "take it over again and again")


class TestPart3_reap_or_bury:
    def test_a_poison_entry_runs_max_deliveries_times_then_is_buried(self, r):
        entry = r.xadd(S, {"task_id": "poison"})
        read_as(r, "w0")  # delivery 1
        deliveries = []
        for n in range(1, 6):
            runnable, buried = ex.reap_or_bury(r, S, G, f"w{n}", DEAD, 0, max_deliveries=3)
            deliveries.append(([d for _, _, d in runnable], buried))
            if buried:
                break
        assert deliveries == [([2], []), ([3], []), ([], [entry])], (
            f"with max_deliveries=3, successive reaps gave (runnable deliveries, buried) "
            f"{deliveries}; expected deliveries 2 and 3 to run, and the 4th to be buried")
        (_, fields), = r.xrange(DEAD)
        assert fields["task_id"] == "poison" and fields["reason"] == "delivered 4 times"
        assert ex.reap_or_bury(r, S, G, "w9", DEAD, 0, max_deliveries=3) == ([], []), (
            "a buried entry came back: it must be acked when it is dead-lettered")

    def test_healthy_entries_are_returned_to_run(self, r):
        a = r.xadd(S, {"task_id": "a"})
        b = r.xadd(S, {"task_id": "b"})
        read_as(r, "dead")
        read_as(r, "dead")
        runnable, buried = ex.reap_or_bury(r, S, G, "alive", DEAD, 0, max_deliveries=3)
        assert [e for e, _, _ in runnable] == [a, b] and buried == [], (runnable, buried)
