"""Tests for exercise 2: the chord counter.

Run: pytest session8_workflows/exercises/test_ex2_chord_counter.py

Redis is fakeredis (``r`` and ``other``: two connections, see conftest.py). The
two dangerous moments are forced, not hoped for: a wrapper lets another child
finish right after your code has read the counter, and another makes the worker
"die" right after its transaction.
"""

import json

import pytest

from workshop.exercises import load_exercise

ex = load_exercise(__file__)

WF = "ex2:wf"
CALLBACK = {"type": "contact_sheet"}


def callbacks(r):
    """How many times the callback's id is in pending."""
    return r.lrange(ex.PENDING, 0, -1).count(ex.callback_id(WF))


def finish_elsewhere(client, child):
    """Another worker finishes ``child`` (correctly), in its own transaction."""
    with client.pipeline() as pipe:
        pipe.hset(ex.results_key(WF), child, json.dumps({"by": "other"}))
        pipe.decr(ex.remaining_key(WF))
        pipe.execute()


READS = {"get", "hget", "hexists", "hgetall", "hkeys", "hlen", "mget"}


def reads_the_counter(args):
    return ex.remaining_key(WF) in args


class Interleave:
    """``r``, except that right after the counter is read, ``action()`` runs elsewhere."""

    def __init__(self, r, action):
        self._r, self._action, self.done = r, action, False

    def fire(self):
        if not self.done:
            self.done = True
            self._action()

    def pipeline(self, *args, **kwargs):
        return _Pipe(self._r.pipeline(*args, **kwargs), self)

    def __getattr__(self, name):
        attr = getattr(self._r, name)
        if name not in READS:
            return attr

        def read(*args, **kwargs):
            value = attr(*args, **kwargs)
            if reads_the_counter(args):
                self.fire()
            return value
        return read


class _Pipe:
    def __init__(self, pipe, owner, crash_after_exec=False):
        self._pipe, self._owner, self._crash = pipe, owner, crash_after_exec

    def __enter__(self):
        self._pipe.__enter__()
        return self

    def __exit__(self, *exc):
        return self._pipe.__exit__(*exc)

    def __getattr__(self, name):
        attr = getattr(self._pipe, name)
        if name in READS:
            def read(*args, **kwargs):
                value = attr(*args, **kwargs)
                if not self._pipe.explicit_transaction and reads_the_counter(args):
                    self._owner.fire()
                return value
            return read
        if name == "execute" and self._crash:
            def execute(*args, **kwargs):
                attr(*args, **kwargs)
                self._owner.crashed = True
                raise WorkerDied("the worker died right after its transaction")
            return execute
        return attr


class WorkerDied(Exception):
    pass


class DiesAfterTransaction:
    """``r``, except that the worker dies right after its first EXEC went through."""

    def __init__(self, r):
        self._r, self.crashed = r, False

    def fire(self):
        pass

    def pipeline(self, *args, **kwargs):
        return _Pipe(self._r.pipeline(*args, **kwargs), self, crash_after_exec=not self.crashed)

    def __getattr__(self, name):
        return getattr(self._r, name)


class TestPart1_record_result:
    def test_the_first_result_is_stored(self, r):
        assert ex.record_result(r, WF, "c0", {"v": 1}) is True
        assert json.loads(r.hget(ex.results_key(WF), "c0")) == {"v": 1}

    def test_a_rerun_does_not_replace_it(self, r):
        ex.record_result(r, WF, "c0", {"v": 1})
        assert ex.record_result(r, WF, "c0", {"v": "rerun"}) is False
        assert json.loads(r.hget(ex.results_key(WF), "c0")) == {"v": 1}, "the rerun's result won"


class TestPart2_complete_child:
    def test_the_last_child_enqueues_the_callback_once(self, r):
        ex.start_chord(r, WF, ["c0", "c1", "c2"])
        got = [ex.complete_child(r, WF, c, {"c": c}, CALLBACK) for c in ("c0", "c1", "c2")]
        assert got == ["waiting", "waiting", "last"], f"complete_child returned {got}"
        assert callbacks(r) == 1, f"the callback is in pending {callbacks(r)} times; expected 1"
        assert json.loads(r.get(f"ex2:task:{ex.callback_id(WF)}")) == CALLBACK

    def test_a_child_that_runs_twice_counts_once(self, r):
        ex.start_chord(r, WF, ["c0", "c1", "c2"])
        ex.complete_child(r, WF, "c0", {}, CALLBACK)
        assert ex.complete_child(r, WF, "c0", {}, CALLBACK) == "already"
        ex.complete_child(r, WF, "c1", {}, CALLBACK)
        assert callbacks(r) == 0, (
            "c0 ran twice and c1 once: c2 has not finished, yet the callback was enqueued")
        assert r.get(ex.remaining_key(WF)) == "1"

    def test_two_children_finishing_at_once_still_enqueue_the_callback(self, r, other):
        ex.start_chord(r, WF, ["c0", "c1"])
        racing = Interleave(r, lambda: finish_elsewhere(other, "c1"))
        outcome = ex.complete_child(racing, WF, "c0", {}, CALLBACK)
        assert racing.done, "complete_child never read the counter (how did it decide?)"
        assert r.get(ex.remaining_key(WF)) == "0"
        assert callbacks(r) == 1, (
            "c1 finished while c0 was deciding (after c0 read '2 left'); c0 was in fact "
            f"the last, returned {outcome!r}, and the callback was never enqueued: the "
            "chord hangs. Watch what you read, so the transaction is refused and redone")
        assert outcome == "last"

    def test_a_worker_that_dies_after_its_transaction_leaves_the_callback_enqueued(self, r):
        ex.start_chord(r, WF, ["c0"])
        dying = DiesAfterTransaction(r)
        with pytest.raises(WorkerDied):
            ex.complete_child(dying, WF, "c0", {}, CALLBACK)
        assert callbacks(r) == 1, (
            "the last child's transaction went through, then its worker died: the callback "
            "must already be enqueued (inside the transaction), or nobody ever will")
        assert ex.complete_child(r, WF, "c0", {}, CALLBACK) == "already"
        assert callbacks(r) == 1


class TestPart3_fail_child:
    def test_fail_policy_fails_the_chord_and_never_enqueues_the_callback(self, r):
        ex.start_chord(r, WF, ["c0", "c1", "c2"])
        assert ex.fail_child(r, WF, "c1", "poison: worker lost 3 times", "fail", CALLBACK) == "failed"
        assert r.get(ex.state_key(WF)) == "failed"
        assert r.get(f"{WF}:reason") == "poison: worker lost 3 times"
        ex.complete_child(r, WF, "c0", {}, CALLBACK)
        ex.complete_child(r, WF, "c2", {}, CALLBACK)
        assert callbacks(r) == 0, "the chord failed, yet its callback was enqueued"

    def test_continue_policy_records_the_failure_and_goes_on(self, r):
        ex.start_chord(r, WF, ["c0", "c1"])
        assert ex.fail_child(r, WF, "c0", "bad image", "continue", CALLBACK) == "waiting"
        assert json.loads(r.hget(ex.results_key(WF), "c0")) == {"failed": True, "error": "bad image"}
        assert ex.complete_child(r, WF, "c1", {}, CALLBACK) == "last"
        assert callbacks(r) == 1

    def test_a_child_that_had_finished_is_not_failed(self, r):
        ex.start_chord(r, WF, ["c0", "c1"])
        ex.complete_child(r, WF, "c0", {}, CALLBACK)
        assert ex.fail_child(r, WF, "c0", "late report", "fail", CALLBACK) == "already"
        assert r.get(ex.state_key(WF)) == "running"
