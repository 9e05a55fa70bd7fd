"""Tests for exercise 1: the leader lease.

Run: pytest session8_workflows/exercises/test_ex1_leader_lease.py

Redis is fakeredis (``r`` and ``other``: two connections, see conftest.py). A
lease that "expires" is one the test deletes, which is what Redis does when the
TTL runs out. The race in part 2 is forced, not hoped for: a wrapper around the
client lets another scheduler take the lease right after your code has read the key.
"""

from workshop.exercises import load_exercise

ex = load_exercise(__file__)

KEY = "ex1:leader"


class StealAfterRead:
    """``r``, except that the first read of the lease lets scheduler B take it over."""

    def __init__(self, r, other):
        self._r, self._other, self.stolen = r, other, False

    def _steal(self):
        if not self.stolen:
            self.stolen = True
            self._other.delete(KEY)  # A's lease expires just now...
            self._other.set(KEY, "B", px=60_000)  # ...and B takes it

    def get(self, key):
        value = self._r.get(key)
        self._steal()
        return value

    def pipeline(self, *args, **kwargs):
        return _StealingPipeline(self._r.pipeline(*args, **kwargs), self._steal)

    def __getattr__(self, name):
        return getattr(self._r, name)


class _StealingPipeline:
    def __init__(self, pipe, steal):
        self._pipe, self._steal = pipe, steal

    def get(self, key):
        value = self._pipe.get(key)
        if not self._pipe.explicit_transaction:  # a read while watching: the check
            self._steal()
        return value

    def __enter__(self):
        self._pipe.__enter__()
        return self

    def __exit__(self, *exc):
        return self._pipe.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self._pipe, name)


class TestPart1_acquire:
    def test_a_free_lease_is_taken_with_a_ttl(self, r):
        assert ex.acquire(r, KEY, "A", 5000) is True, "acquire on a free lease returned False"
        assert r.get(KEY) == "A", f"the lease key holds {r.get(KEY)!r}; expected our token 'A'"
        assert 0 < r.pttl(KEY) <= 5000, (
            f"the lease has a TTL of {r.pttl(KEY)} ms; expected up to 5000 ms (a lease with no "
            f"TTL (-1) would outlive a dead leader)")

    def test_a_lease_held_by_another_is_not_taken(self, r):
        r.set(KEY, "B", px=5000)
        assert ex.acquire(r, KEY, "A", 5000) is False
        assert r.get(KEY) == "B", "acquire overwrote another scheduler's lease"

    def test_our_own_lease_is_kept_and_extended(self, r):
        r.set(KEY, "A", px=100)
        assert ex.acquire(r, KEY, "A", 5000) is True
        assert r.pttl(KEY) > 100, "acquiring our own lease should extend it"


class TestPart2_renew:
    def test_our_lease_is_extended(self, r):
        r.set(KEY, "A", px=100)
        assert ex.renew(r, KEY, "A", 5000) is True
        assert 100 < r.pttl(KEY) <= 5000, f"TTL after renew: {r.pttl(KEY)} ms; expected ~5000"

    def test_a_lease_that_expired_is_not_renewed(self, r):
        assert ex.renew(r, KEY, "A", 5000) is False, "renewed a lease that no longer exists"
        assert r.get(KEY) is None, "renew recreated an expired lease: that is acquire's job"

    def test_another_schedulers_lease_is_left_alone(self, r):
        r.set(KEY, "B", px=1000)
        assert ex.renew(r, KEY, "A", 60_000) is False
        assert r.get(KEY) == "B" and r.pttl(KEY) <= 1000, (
            "renew with token 'A' changed the lease of 'B' (its token or its TTL)")

    def test_a_takeover_between_the_check_and_the_extension_is_noticed(self, r, other):
        r.set(KEY, "A", px=100)
        racing = StealAfterRead(r, other)
        renewed = ex.renew(racing, KEY, "A", 60_000)
        assert racing.stolen, "renew never read the lease (how did it check the token?)"
        assert renewed is False, (
            "B took the lease after renew checked the token and before it extended it; "
            "renew returned True, so A and B both believe they lead. Make the check and "
            "the extension one step (WATCH, then MULTI/EXEC)")
        assert other.pttl(KEY) > 59_000 - 1000 and other.get(KEY) == "B"


class TestPart3_release:
    def test_our_lease_is_deleted(self, r):
        r.set(KEY, "A", px=5000)
        assert ex.release(r, KEY, "A") is True and r.get(KEY) is None

    def test_a_successors_lease_is_not_deleted(self, r):
        r.set(KEY, "B", px=5000)
        assert ex.release(r, KEY, "A") is False
        assert r.get(KEY) == "B", "a leader that lost its lease deleted its successor's"
