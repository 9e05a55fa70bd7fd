"""The queue's contract: five defects it must not have, and what it promises instead.

Each ``TestDefect...`` class is a regression test for a defect an earlier script
had (README, "The second version of the script"): it failed there and passes now.
The other classes check the contract (batch claims, priorities, pause/resume,
cancel, duplicate ids, one reply shape, the transition table, no partial writes).

A real Redis is needed (the scripts are Lua); a "dead worker" is one whose
heartbeat key the test deletes, which is what Redis does when the TTL runs out.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis

from session2_pipeline.core import default_pipeline
from session5_recovery.workers import (
    ALLOWED_TRANSITIONS,
    COMMAND_MOVES,
    DuplicateTaskError,
    HandlerRegistry,
    RecoverySettings,
    RedisTaskQueue,
    RedisWorker,
    ResultTooLargeError,
    TaskStatus,
)
from session5_recovery.workers.lua_scripts import COMMANDS
from session5_recovery.workers.redis_task_queue import MAX_RESULT_BYTES
from workshop.waiting import wait_until

pytestmark = pytest.mark.redis

REPO = Path(__file__).resolve().parents[2]


# settings and queue: the fixtures in conftest.py (a fake clock, a real Redis).


def expire(queue, worker_id):
    """What Redis does when a heartbeat's TTL runs out."""
    queue.client.delete(queue.keys.heartbeat(worker_id))


def assert_conserved(queue):
    c = queue.conservation(full=True)
    assert c.holds, f"conservation broken: {c}"


def names(queue):
    return [e.name for e in queue.events(None)]


def burst_worker(queue, handlers=None, **kwargs):
    """A burst worker in this thread, with the test's settings but real time."""
    return RedisWorker("w1", queue, pipeline=default_pipeline(), handlers=handlers, log=None, **kwargs)


# --- the five defects -------------------------------------------------------------------


class TestDefect1NoTaskLeftInNoList:
    """A script that errored half-way (a 5,000-key result) left the task in no list."""

    def test_a_result_with_5000_keys_is_stored_and_the_worker_lives(self, redis_client, queue_name):
        queue = RedisTaskQueue(client=redis_client, queue_name=queue_name,
                               settings=RecoverySettings(claim_timeout=0.05))
        handlers = HandlerRegistry()
        handlers.register("wide")(lambda data, context: {f"k{i}": i for i in range(5000)})
        handlers.register("noop")(lambda data, context: None)
        wide = queue.add_task({"type": "wide"})
        after = queue.add_task({"type": "noop"})
        counts = burst_worker(queue, handlers).start(burst=True, handle_signals=False)
        assert_conserved(queue)
        assert queue.locate(wide) == ["completed"]
        assert queue.get_result(wide) == {f"k{i}": i for i in range(5000)}
        assert queue.locate(after) == ["completed"], "the worker went on to the next task"
        assert counts.completed == 2

    def test_a_result_over_the_limit_fails_the_task_permanently_saying_the_size(
            self, redis_client, queue_name):
        queue = RedisTaskQueue(client=redis_client, queue_name=queue_name,
                               settings=RecoverySettings(claim_timeout=0.05))
        handlers = HandlerRegistry()
        handlers.register("huge")(lambda data, context: {"blob": "x" * (MAX_RESULT_BYTES + 10)})
        task_id = queue.add_task({"type": "huge"}, max_attempts=3)
        burst_worker(queue, handlers).start(burst=True, handle_signals=False)
        info = queue.get_task_info(task_id)
        assert info.status is TaskStatus.DEAD_LETTERED and info.attempts == 1, "not retried"
        assert f"{MAX_RESULT_BYTES:,}" in info.reason and "bytes" in info.reason, info.reason
        assert queue.get_result(task_id) is None
        assert_conserved(queue)

    def test_mark_completed_checks_the_size_before_writing(self, queue):
        task_id = queue.add_task({"type": "noop"})
        queue.get_task("w1", timeout=0)
        with pytest.raises(ResultTooLargeError, match="limit"):
            queue.mark_completed(task_id, {"blob": "x" * (MAX_RESULT_BYTES + 10)}, worker_id="w1")
        assert queue.locate(task_id) == ["processing:w1"], "nothing was written"
        assert queue.get_task_info(task_id).status is TaskStatus.PROCESSING

    def test_the_worker_survives_a_response_error_from_one_task(self, redis_client, queue_name):
        queue = RedisTaskQueue(client=redis_client, queue_name=queue_name,
                               settings=RecoverySettings(claim_timeout=0.05))
        handlers = HandlerRegistry()

        @handlers.register("vandal")
        def vandal(data, context):  # its own task hash becomes a string: Redis will refuse
            queue.client.delete(queue.keys.task(context.task_id))
            queue.client.set(queue.keys.task(context.task_id), "not a hash")

        handlers.register("noop")(lambda data, context: None)
        bad = queue.add_task({"type": "vandal"})
        good = queue.add_task({"type": "noop"})
        burst_worker(queue, handlers).start(burst=True, handle_signals=False)
        assert queue.locate(good) == ["completed"], "the worker went on"
        assert queue.locate(bad) == ["dead_lettered"], f"the broken task is in {queue.locate(bad)}"
        assert_conserved(queue)


class TestDefect2FailIsSafeToResend:
    """A resent ``fail`` (its reply lost) answered "refused" for a retry that was scheduled."""

    def test_resending_a_retry(self, queue):
        task_id = queue.add_task({"type": "noop"})
        queue.get_task("w1", timeout=0)
        assert queue.mark_failed(task_id, "boom", worker_id="w1") == "retry"
        assert queue.mark_failed(task_id, "boom", worker_id="w1") == "retry"
        assert names(queue).count("failed") == 1 and names(queue).count("retry_scheduled") == 1
        assert "completion_refused" not in names(queue)
        assert len(queue.get_task_info(task_id).history) == 1
        assert queue.locate(task_id) == ["delayed"]
        assert_conserved(queue)

    def test_resending_a_dead_letter(self, queue):
        task_id = queue.add_task({"type": "noop"})
        queue.get_task("w1", timeout=0)
        assert queue.mark_failed(task_id, "bad", permanent=True, worker_id="w1") == "dead_lettered"
        assert queue.mark_failed(task_id, "bad", permanent=True, worker_id="w1") == "dead_lettered"
        assert names(queue).count("dead_lettered") == 1
        assert queue.locate(task_id) == ["dead_lettered"]

    def test_resending_a_requeue_and_a_completion(self, queue):
        first, second = queue.add_tasks([{"type": "noop"}, {"type": "noop"}])
        queue.get_tasks("w1", 2, timeout=0)
        assert queue.requeue(first, worker_id="w1") and queue.requeue(first, worker_id="w1")
        assert names(queue).count("requeued") == 1
        assert queue.mark_completed(second, {"ok": 1}, worker_id="w1")
        assert queue.mark_completed(second, {"ok": 1}, worker_id="w1")
        assert names(queue).count("completed") == 1
        assert_conserved(queue)

    def test_another_worker_is_still_refused(self, queue):
        task_id = queue.add_task({"type": "noop"})
        queue.get_task("w1", timeout=0)
        assert queue.mark_failed(task_id, "boom", worker_id="w1") == "retry"
        assert queue.mark_failed(task_id, "boom", worker_id="w2") == "refused"


class TestDefect3FencedClaim:
    """A worker reaped between its blocking wait and its claim stamped a task back in pending."""

    def test_a_worker_reaped_right_after_its_wait_claims_nothing_stale(self, queue, monkeypatch):
        producer = RedisTaskQueue(client=queue.client, queue_name=queue.queue_name,
                                  settings=queue.settings)
        queue.register_worker("w1")

        def reaped_after(original):
            def wait(*args, **kwargs):
                producer.add_task({"type": "noop"})  # work arrives while w1 waits...
                reply = original(*args, **kwargs)
                expire(queue, "w1")  # ...and w1 is taken for dead before it claims
                producer.reap()
                return reply
            return wait

        for name in ("blmove", "blpop"):  # whichever the queue blocks on
            monkeypatch.setattr(queue.client, name, reaped_after(getattr(queue.client, name)))
        task = queue.get_task("w1", timeout=5)
        assert task is not None
        assert queue.locate(task.id) == ["processing:w1"], \
            f"a claimed task must be in its worker's list, it is in {queue.locate(task.id)}"
        info = queue.get_task_info(task.id)
        assert (info.status, info.worker_id, info.attempts) == (TaskStatus.PROCESSING, "w1", 1)
        assert_conserved(queue)


class TestDefect4NoKeyspaceScan:
    """The reaper, counts, stats and drained checks ran SCAN over the whole keyspace."""

    def test_periodic_work_never_scans(self, queue, monkeypatch):
        queue.add_tasks([{"type": "noop"}] * 3)
        queue.get_task("w1", timeout=0)
        expire(queue, "w1")

        def no_scan(*args, **kwargs):
            raise AssertionError("periodic work must cost O(workers): no SCAN")

        monkeypatch.setattr(queue.client, "scan_iter", no_scan)
        monkeypatch.setattr(queue.client, "scan", no_scan)
        assert len(queue.reap()) == 1
        queue.maintain()
        assert queue.conservation().holds
        assert queue.get_stats()["pending"] == 3
        assert not queue.is_drained()
        assert queue.join(timeout=0) is False

    def test_the_script_itself_does_not_scan(self):
        for command in COMMANDS.values():
            code = "\n".join(line.split("--")[0] for line in command.source.splitlines())
            assert not re.search(r"[\"'](SCAN|KEYS)[\"']", code, re.IGNORECASE), command.name


class TestDefect5ImportsOnWindows:
    def test_the_package_imports_without_sigkill(self):
        """Windows has no signal.SIGKILL; a default argument that used it broke the import."""
        code = ("import signal; del signal.SIGKILL; "
                "import session5_recovery.tools as t; print(t.WorkerFleet.__name__)")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=REPO, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "WorkerFleet"


# --- the contract ----------------------------------------------------------------------


class TestBatchClaims:
    def test_get_tasks_claims_a_batch_in_order_each_in_the_workers_list(self, queue):
        ids = queue.add_tasks([{"type": "noop", "n": n} for n in range(5)])
        batch = queue.get_tasks("w1", 3, timeout=0)
        assert [t.id for t in batch] == ids[:3]
        assert all(t.attempts == 1 and t.status is TaskStatus.PROCESSING for t in batch)
        assert sorted(queue.client.lrange(queue.keys.processing("w1"), 0, -1)) == sorted(ids[:3])
        assert [t.id for t in queue.get_tasks("w1", 10, timeout=0)] == ids[3:]
        assert queue.get_tasks("w1", 10, timeout=0) == []
        assert names(queue).count("claimed") == 5
        assert_conserved(queue)

    def test_a_dead_worker_holding_a_batch_loses_none_of_it(self, queue):
        ids = queue.add_tasks([{"type": "noop", "n": n} for n in range(4)])
        queue.get_tasks("w1", 4, timeout=0)
        expire(queue, "w1")
        recovered = queue.reap()
        assert sorted(r.task_id for r in recovered) == sorted(ids)
        assert {r.outcome for r in recovered} == {"requeued"}
        assert [t.id for t in queue.get_tasks("w2", 4, timeout=0)] == ids, "back in their order"
        assert_conserved(queue)

    def test_a_batch_of_completions_in_one_call_each_fenced_on_its_own(self, queue):
        ids = queue.add_tasks([{"type": "noop", "n": n} for n in range(5)])
        queue.get_tasks("w1", 3, timeout=0)
        queue.client.lrem(queue.keys.processing("w1"), 1, ids[1])  # as if reaped meanwhile
        queue.client.rpush(queue.keys.pending, ids[1])
        recorded, claimed = queue.complete_many(
            "w1", [(ids[0], queue.encode_result({"n": 0})), (ids[1], ""), (ids[2], "")],
            max_tasks=2)
        assert recorded == [True, False, True]
        assert queue.get_result(ids[0]) == {"n": 0}
        assert [t.id for t in claimed] == [ids[1], ids[3]], "then the next two, in order"
        assert queue.locate(ids[1]) == ["processing:w1"] and queue.locate(ids[2]) == ["completed"]

    def test_a_worker_with_prefetch_drains_the_queue(self, redis_client, queue_name):
        queue = RedisTaskQueue(client=redis_client, queue_name=queue_name,
                               settings=RecoverySettings(claim_timeout=0.05))
        ids = queue.add_tasks([{"type": "noop"}] * 12)
        counts = burst_worker(queue, prefetch=5).start(burst=True, handle_signals=False)
        assert counts.completed == 12
        assert all(queue.locate(i) == ["completed"] for i in ids)
        assert_conserved(queue)

    def test_a_stop_during_a_batch_hands_the_rest_back(self, redis_client, queue_name):
        queue = RedisTaskQueue(client=redis_client, queue_name=queue_name,
                               settings=RecoverySettings(claim_timeout=0.05))
        handlers = HandlerRegistry()
        worker = burst_worker(queue, handlers, prefetch=4)
        handlers.register("stop")(lambda data, context: worker.stop())
        first, *rest = queue.add_tasks([{"type": "stop"}] + [{"type": "stop"}] * 3)
        counts = worker.start(burst=False, handle_signals=False)
        assert counts.completed == 1 and counts.requeued == 3
        assert queue.locate(first) == ["completed"]
        assert all(queue.locate(i) == ["pending"] for i in rest)
        assert all(queue.get_task_info(i).attempts == 0 for i in rest), "attempts given back"
        assert_conserved(queue)

    @pytest.mark.parametrize("bad", [0, -1, 1.5, True])
    def test_bad_batch_sizes_are_refused(self, queue, bad):
        with pytest.raises(ValueError, match="max_tasks"):
            queue.get_tasks("w1", bad, timeout=0)
        with pytest.raises(ValueError, match="prefetch"):
            RedisWorker("w1", queue, prefetch=bad)


class TestPriorities:
    def test_high_first_then_normal_then_low_fifo_within_each(self, queue):
        low = queue.add_tasks([{"type": "noop"}] * 2, priority="low")
        normal = queue.add_tasks([{"type": "noop"}] * 2)
        high = queue.add_tasks([{"type": "noop"}] * 2, priority="high")
        stats = queue.get_stats()
        assert (stats["pending_high"], stats["pending_normal"], stats["pending_low"],
                stats["pending"]) == (2, 2, 2, 6)
        got = [t.id for t in queue.get_tasks("w1", 6, timeout=0)]
        assert got == high + normal + low

    def test_a_recovered_task_keeps_its_priority(self, queue):
        low = queue.add_task({"type": "noop"}, priority="low")
        queue.get_task("w1", timeout=0)
        queue.add_task({"type": "noop"}, priority="low")
        expire(queue, "w1")
        queue.reap()
        assert queue.locate(low) == ["pending:low"]
        assert queue.get_task("w2", timeout=0).id == low, "at the head of its own line"

    @pytest.mark.parametrize("priority", ["high", "normal", "low"])
    def test_an_idle_blocked_worker_wakes_for_any_priority(self, queue, priority):
        claimed = []
        waiter = threading.Thread(target=lambda: claimed.append(queue.get_task("w1", timeout=60)))
        waiter.start()
        wait_until(lambda: any(c.get("cmd") == "blpop" for c in queue.client.client_list()),
                   30, "the worker to block")
        task_id = queue.add_task({"type": "noop"}, priority=priority)
        waiter.join(30)  # it would sit out the whole 60 s if nothing woke it
        assert not waiter.is_alive(), "the blocked worker did not wake up"
        assert claimed[0] is not None and claimed[0].id == task_id

    def test_wake_up_tokens_never_outnumber_the_pending_tasks(self, queue):
        queue.add_tasks([{"type": "noop"}] * 3)
        assert queue.client.llen(queue.keys.wake) == 3
        queue.get_tasks("w1", 2, timeout=0)
        assert queue.client.llen(queue.keys.wake) == 1
        queue.get_tasks("w1", 2, timeout=0)
        assert queue.client.llen(queue.keys.wake) == 0, "no stale token to wake an idle worker"

    def test_an_unknown_priority_is_refused(self, queue):
        with pytest.raises(ValueError, match="high, normal, low"):
            queue.add_task({"type": "noop"}, priority="urgent")
        assert queue.get_stats()["enqueued"] == 0


class TestDuplicateIds:
    def test_a_given_id_is_used_once(self, queue):
        assert queue.add_task({"type": "noop"}, task_id="order-42") == "order-42"
        with pytest.raises(DuplicateTaskError, match="order-42"):
            queue.add_task({"type": "noop", "again": True}, task_id="order-42")
        assert queue.get_task_info("order-42").data == {"type": "noop"}, "nothing overwritten"
        assert queue.get_stats()["enqueued"] == 1 and names(queue).count("enqueued") == 1

    def test_a_batch_queues_its_new_ids_and_refuses_the_ones_already_held(self, queue):
        queue.add_task({"type": "noop"}, task_id="taken")
        ids = queue.add_tasks([{"type": "noop"}, {"type": "noop", "again": True}],
                              task_ids=["fresh", "taken"])
        assert ids == ["fresh", "taken"] and (ids.queued, ids.already) == (1, 1)
        assert queue.get_task_info("taken").data == {"type": "noop"}, "nothing overwritten"
        assert queue.get_stats()["enqueued"] == 2

    @pytest.mark.parametrize("bad", ["", "has space", "a*b", "x" * 201, 7])
    def test_bad_ids_are_refused(self, queue, bad):
        with pytest.raises(ValueError, match="task_id"):
            queue.add_task({"type": "noop"}, task_id=bad)


class TestCancelPauseResume:
    def test_cancel_a_pending_task(self, queue):
        task_id, other = queue.add_tasks([{"type": "noop"}, {"type": "noop"}])
        assert queue.cancel(task_id) is True
        assert queue.cancel(task_id) is False, "only a pending task can be cancelled"
        info = queue.get_task_info(task_id)
        assert info.status is TaskStatus.CANCELLED and queue.locate(task_id) == ["cancelled"]
        assert queue.get_stats()["cancelled"] == 1 and "cancelled" in names(queue)
        assert queue.get_task("w1", timeout=0).id == other
        assert queue.cancel(other) is False, "a claimed task is not cancelled"
        assert queue.cancel("no-such-task") is False
        assert_conserved(queue)

    def test_pause_stops_claims_and_in_flight_work_finishes(self, queue):
        first, second = queue.add_tasks([{"type": "noop"}, {"type": "noop"}])
        queue.get_task("w1", timeout=0)
        assert queue.pause() is True and queue.pause() is False
        assert queue.is_paused() and queue.get_stats()["paused"] == 1
        assert queue.get_task("w2", timeout=0) is None
        assert queue.mark_completed(first, worker_id="w1"), "in-flight work finishes"
        assert queue.resume() is True and not queue.is_paused()
        assert queue.get_task("w2", timeout=0).id == second
        assert names(queue).count("paused") == 1 and names(queue).count("resumed") == 1

    def test_resume_wakes_a_blocked_worker(self, queue):
        queue.pause()
        task_id = queue.add_task({"type": "noop"})
        claimed = []
        waiter = threading.Thread(target=lambda: claimed.append(queue.get_task("w1", timeout=60)))
        waiter.start()
        queue.resume()
        waiter.join(30)
        assert not waiter.is_alive() and claimed[0].id == task_id


# --- one reply shape, one transition table, no partial writes -------------------------------


def _headers() -> dict[str, set[tuple[str | None, str | None]]]:
    """command -> the moves its "Status:" header line in queue.lua names."""
    moves: dict[str, set] = {}
    for name, command in COMMANDS.items():
        found = moves.setdefault(name, set())
        status = re.search(r"^-- Status: (.*)$", command.header, re.MULTILINE)
        for move in status.group(1).split("|") if status else ():
            if "->" in move:
                a, b = (s.strip() for s in move.split("->"))
                found.add((None if a == "none" else a, None if b == "none" else b))
    return moves


def _status(queue, task_id):
    info = queue.get_task_info(task_id)
    return None if info is None else info.status


class TestOneTableForEveryCommand:
    def test_every_command_has_a_header_and_a_reply_shape(self):
        assert len(COMMANDS) >= 20
        for name, command in COMMANDS.items():
            body = command.source.split(command.header)[-1]
            assert "-- REPLY:" in command.header, f"{name} has no REPLY line"
            assert "-- Status:" in command.header, f"{name} has no Status line"
            assert "-- ARGS:" in command.header or "ARGV[4" not in body, \
                f"{name} does not list its ARGS"

    def test_the_headers_and_the_table_agree(self):
        headers = _headers()
        for command, moves in COMMAND_MOVES.items():
            as_text = {(None if a is None else a.value, None if b is None else b.value)
                       for a, b in moves}
            assert headers.get(command) == as_text, f"{command}: header {headers.get(command)}"
            for a, b in moves:
                assert b in ALLOWED_TRANSITIONS[a], f"{command} makes a move the table forbids"

    def test_every_command_moves_as_the_table_says(self, queue, fake_clock):
        seen: dict[str, set] = {name: set() for name in COMMAND_MOVES}

        def run(command, ids, action):
            before = {i: _status(queue, i) for i in ids}
            reply = action()
            for i in ids:
                after = _status(queue, i)
                if after != before[i]:
                    seen[command].add((before[i], after))
                    assert (before[i], after) in COMMAND_MOVES[command], \
                        f"{command} moved {i} {before[i]} -> {after}"
            assert_conserved(queue)
            return reply

        ids = [f"t{n}" for n in range(8)]
        for i in ids:
            run("enqueue", [i], lambda i=i: queue.add_task({"type": "noop"}, task_id=i))
        run("enqueue", ["later"], lambda: queue.add_task({"type": "noop"}, task_id="later",
                                                         delay=30))
        run("cancel", ids, lambda: queue.cancel("t7"))
        claimed = run("claim", ids, lambda: queue.get_tasks("w1", 6, timeout=0))
        assert len(claimed) == 6
        run("complete", ids, lambda: queue.mark_completed("t0", {"ok": True}))
        run("fail", ids, lambda: queue.mark_failed("t1", "boom"))
        run("fail", ids, lambda: queue.mark_failed("t2", "bad", permanent=True))
        run("requeue", ids, lambda: queue.requeue("t3"))
        expire(queue, "w1")
        queue.client.hset(queue.keys.task("t5"), "max_attempts", 1)
        run("reap", ids, queue.reap)
        fake_clock.advance(60)
        run("promote", [*ids, "later"], queue.promote_due)
        run("replay", ids, lambda: queue.replay("t2"))
        queue.get_tasks("w2", 10, timeout=0)
        queue.mark_failed("t2", "bad again", permanent=True, worker_id="w2")
        run("purge", ids, queue.purge_dlq)
        run("enqueue", ["t8"], lambda: queue.add_task({"type": "noop"}, task_id="t8"))
        run("claim", ["t8"], lambda: (  # a hash edited by hand: dead-lettered by the claim
            queue.client.hset(queue.keys.task("t8"), "attempts", "abc"),
            queue.get_tasks("w3", 1, timeout=0)))
        run("enqueue", ["t9"], lambda: queue.add_task({"type": "noop"}, task_id="t9"))
        assert [t.id for t in queue.get_tasks("w4", 1, timeout=0)] == ["t9"]
        run("complete_batch", ["t9"], lambda: queue.complete_many("w4", [("t9", "")]))
        # The completions that also claim: one finished, one claimed, one malformed record.
        for i in ("t10", "t11", "t12", "t13", "t14"):
            run("enqueue", [i], lambda i=i: queue.add_task({"type": "noop"}, task_id=i))
        assert [t.id for t in queue.get_tasks("w5", 1, timeout=0)] == ["t10"]
        got = run("complete_and_claim", ["t10", "t11", "t12"], lambda: (
            queue.client.hset(queue.keys.task("t11"), "attempts", "abc"),
            queue.complete_and_claim("t10", worker_id="w5", max_tasks=2))[1])
        assert got[0] and [t.id for t in got[1]] == ["t12"]
        got = run("complete_batch_and_claim", ["t12", "t13", "t14"], lambda: (
            queue.client.hset(queue.keys.task("t13"), "history", "x"),
            queue.complete_many("w5", [("t12", "")], max_tasks=2))[1])
        assert got[0] == [True] and [t.id for t in got[1]] == ["t14"]
        queue.mark_completed("t14", worker_id="w5")
        # Retention: t0 completed and t8 dead-lettered, both long enough ago.
        aged = RedisTaskQueue(client=queue.client, queue_name=queue.queue_name,
                              settings=queue.settings.replace(result_ttl=3600, failure_ttl=60))
        fake_clock.advance(7200)
        run("expire", [*ids, "t8", "t10", "t12", "t14"], aged.expire)
        for command, moves in COMMAND_MOVES.items():
            assert seen[command] == set(moves), f"{command}: saw {seen[command]}, table {moves}"


class TestNoPartialWrites:
    """Every command, forced to fail half-way, leaves every task in exactly one place."""

    def snapshot(self, queue):
        c = queue.conservation(full=True)
        return (c.pending, c.processing, c.delayed, c.completed, c.dead_lettered, c.cancelled)

    def corrupt(self, queue, task_id):
        """The task's hash replaced by a string (by hand): every read of it is an error."""
        queue.client.delete(queue.keys.task(task_id))
        queue.client.set(queue.keys.task(task_id), "not a hash")

    @pytest.mark.parametrize("command", ["complete", "fail", "requeue", "replay", "cancel"])
    def test_a_task_key_of_the_wrong_type(self, queue, command):
        task_id, other = queue.add_tasks([{"type": "noop"}, {"type": "noop"}])
        if command == "replay":
            queue.get_task("w1", timeout=0)
            queue.mark_failed(task_id, "bad", permanent=True)
        elif command != "cancel":
            queue.get_task("w1", timeout=0)
        self.corrupt(queue, task_id)
        before = self.snapshot(queue)
        action = {"complete": lambda: queue.mark_completed(task_id, {"x": 1}, worker_id="w1"),
                  "fail": lambda: queue.mark_failed(task_id, "boom", worker_id="w1"),
                  "requeue": lambda: queue.requeue(task_id, worker_id="w1"),
                  "replay": lambda: queue.replay(task_id),
                  "cancel": lambda: queue.cancel(task_id)}[command]
        try:
            action()
        except redis.ResponseError:
            assert self.snapshot(queue) == before, f"{command} wrote before it failed"
        assert_conserved(queue)
        assert queue.get_task_info(other) is not None

    def test_claim_reap_and_promote_step_over_a_broken_task(self, queue, fake_clock):
        broken, good = queue.add_tasks([{"type": "noop"}, {"type": "noop"}])
        self.corrupt(queue, broken)
        claimed = queue.get_tasks("w1", 2, timeout=0)
        assert [t.id for t in claimed] == [good]
        assert queue.locate(broken) == ["dead_lettered"]
        assert_conserved(queue)
        # a broken task in a dead worker's list
        third = queue.add_task({"type": "noop"})
        queue.get_task("w2", timeout=0)
        self.corrupt(queue, third)
        expire(queue, "w2")
        assert [(r.task_id, r.outcome) for r in queue.reap()] == [(third, "dead_lettered")]
        assert_conserved(queue)
        # a broken task in delayed, due with a good one
        fourth, fifth = queue.add_tasks([{"type": "noop"}, {"type": "noop"}])
        queue.get_tasks("w3", 2, timeout=0)
        queue.mark_failed(fourth, "boom")
        queue.mark_failed(fifth, "boom")
        self.corrupt(queue, fourth)
        fake_clock.advance(60)
        assert queue.promote_due() == 1
        assert queue.locate(fourth) == ["dead_lettered"] and queue.locate(fifth) == ["pending"]
        assert_conserved(queue)

    def test_a_result_too_large_is_refused_before_the_script(self, queue):
        task_id = queue.add_task({"type": "noop"})
        queue.get_task("w1", timeout=0)
        before = self.snapshot(queue)
        with pytest.raises(ResultTooLargeError):
            queue.mark_completed(task_id, {"blob": "y" * (MAX_RESULT_BYTES + 1)})
        assert self.snapshot(queue) == before
        assert_conserved(queue)
