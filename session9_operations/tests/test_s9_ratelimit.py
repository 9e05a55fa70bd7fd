"""Rate limits per task type: global (in Redis), atomic, exact over any window.

The clock is the queue's fake clock: a test moves time, nothing sleeps.
"""

from __future__ import annotations

import pytest

from session5_recovery.workers import RedisTaskQueue, TaskStatus
from session9_operations.cli import main
from session9_operations.ratelimit import (
    RateLimit,
    RateLimiter,
    RateLimitError,
    max_starts_in_any_window,
)
from session9_operations.worker import OperationsWorker

pytestmark = pytest.mark.redis


@pytest.fixture
def limiter(queue):
    limiter = RateLimiter(queue)
    limiter.set("email", RateLimit(3, 10.0))
    return limiter


class TestBadInput:
    @pytest.mark.parametrize("limit", [0, -1, True, 2.5])
    def test_a_limit_below_one_is_one_clear_line(self, limit):
        with pytest.raises(RateLimitError, match="at least 1 task per window") as caught:
            RateLimit(limit, 60)
        assert "\n" not in str(caught.value)

    @pytest.mark.parametrize("per", [0, -5, float("nan"), float("inf")])
    def test_a_window_that_is_not_positive_is_refused(self, per):
        with pytest.raises(RateLimitError, match="positive number of seconds"):
            RateLimit(10, per)

    @pytest.mark.parametrize("text", ["10", "0/m", "-3/s", "ten/m", "10/fortnight"])
    def test_parse_refuses_what_is_not_count_per_window(self, text):
        with pytest.raises(RateLimitError):
            RateLimit.parse(text)

    def test_parse_reads_the_usual_forms(self):
        assert RateLimit.parse("10/m") == RateLimit(10, 60.0)
        assert RateLimit.parse("5/s") == RateLimit(5, 1.0)
        assert RateLimit.parse("3/2.5") == RateLimit(3, 2.5)


class TestSlidingWindow:
    def test_allows_the_limit_then_refuses_until_the_oldest_leaves(self, limiter, fake_clock):
        verdicts = [limiter.acquire("email", f"t{i}").outcome for i in range(4)]
        assert verdicts == ["allowed"] * 3 + ["limited"]
        refused = limiter.acquire("email", "t4")
        assert refused.at == pytest.approx(fake_clock() + 10.0)
        fake_clock.advance(9.999)
        assert limiter.acquire("email", "t5").outcome == "limited"
        fake_clock.advance(0.002)
        assert limiter.acquire("email", "t6").outcome == "allowed"

    def test_no_window_anywhere_holds_more_than_the_limit(self, limiter, fake_clock):
        # Starts at the end of one fixed minute and the start of the next: a fixed
        # window would allow 6 within two seconds here; the sliding one allows 3.
        starts = []
        for step in range(200):
            fake_clock.advance(0.25)
            if limiter.acquire("email", f"t{step}").may_start:
                starts.append(fake_clock())
        assert max_starts_in_any_window(starts, 10.0) == 3
        assert len(starts) == 3 * 5  # and it does use its budget: 50 s, 3 per 10 s

    def test_the_window_edge_is_exact_at_todays_clock(self, queue):
        # Lua prints a number with 14 significant digits: an epoch time is then rounded
        # to 0.1 ms, and a start 20 µs inside the window was dropped from it.
        now = [1_718_000_000.00008]
        limiter = RateLimiter(queue, clock=lambda: now[0])
        limiter.set("email", RateLimit(1, 10.0))
        assert limiter.acquire("email", "first").outcome == "allowed"
        now[0] = 1_718_000_010.00006  # the first start is 20 µs inside [now - 10, now)
        refused = limiter.acquire("email", "second")
        assert refused.outcome == "limited"
        assert refused.at == pytest.approx(1_718_000_010.00008, rel=0, abs=1e-6)

    def test_types_without_a_limit_and_other_types_are_not_counted(self, limiter):
        for i in range(10):
            assert limiter.acquire("image", f"i{i}").outcome == "unlimited"
        assert limiter.acquire("email", "e").outcome == "allowed"

    def test_limits_live_in_redis_for_every_worker(self, queue, redis_client, limiter):
        other = RateLimiter(RedisTaskQueue(client=redis_client, queue_name=queue.queue_name,
                                           settings=queue.settings))
        assert other.limits() == {"email": RateLimit(3, 10.0)}
        for i in range(3):
            (limiter if i % 2 else other).acquire("email", f"t{i}")
        assert other.acquire("email", "x").outcome == "limited"


class TestAtClaimTime:
    def claim(self, queue, worker="w1"):
        queue.register_worker(worker)
        return queue.get_task(worker, timeout=0)

    def test_over_the_limit_goes_to_delayed_with_its_due_time_and_no_attempt_spent(
            self, queue, limiter, fake_clock):
        for i in range(3):
            limiter.acquire("email", f"earlier{i}")
        task_id = queue.add_task({"type": "email"})
        task = self.claim(queue)
        assert task.attempts == 1
        verdict = limiter.acquire_or_defer("email", task.id, task.attempts, "w1")
        assert verdict.outcome == "deferred"
        assert verdict.at == pytest.approx(fake_clock() + 10.0)
        info = queue.get_task_info(task_id)
        assert info.status == TaskStatus.DELAYED
        assert info.attempts == 0, "waiting for a slot must not spend an attempt"
        assert info.due_at == pytest.approx(verdict.at)
        assert queue.conservation(full=True).holds
        assert [e.name for e in queue.events(10)][-1] == "rate_limited"
        fake_clock.advance(10.01)
        assert queue.promote_due() == 1
        again = self.claim(queue)
        assert (again.id, again.attempts) == (task_id, 1)
        assert limiter.acquire_or_defer("email", again.id, again.attempts, "w1").may_start

    def test_a_task_that_is_not_in_my_list_is_not_moved(self, queue, limiter):
        task_id = queue.add_task({"type": "email"})
        assert limiter.acquire_or_defer("email", task_id, 1, "w1").outcome == "not_mine"
        assert queue.get_task_info(task_id).status == TaskStatus.PENDING

    def test_the_worker_defers_instead_of_running(self, queue, limiter, fake_clock):
        ran = []
        registry = _registry(ran)
        ids = queue.add_tasks([{"type": "email", "n": i} for i in range(5)])
        worker = OperationsWorker("w1", queue, handlers=registry, log=None)
        worker.start(burst=True, max_tasks=5, handle_signals=False)
        assert len(ran) == 3 and worker.deferred == 2
        delayed = [queue.get_task_info(i) for i in ids if
                   queue.get_task_info(i).status == TaskStatus.DELAYED]
        assert len(delayed) == 2 and all(t.attempts == 0 for t in delayed)

    def test_a_deferred_task_is_forgotten_by_the_queue_object(self, queue, limiter):
        # The queue object remembers each task it claimed until it is finished; a task
        # sent back to wait for a slot is not finished, and must not be remembered.
        limiter.set("email", RateLimit(1, 600.0))
        queue.add_tasks([{"type": "email", "n": i} for i in range(20)])
        worker = OperationsWorker("w1", queue, handlers=_registry([]), log=None)
        worker.start(burst=True, max_tasks=20, handle_signals=False)
        assert worker.deferred == 19
        assert queue._claimed == {}

    def test_a_task_taken_away_before_its_check_is_forgotten_too(self, queue, limiter):
        queue.add_task({"type": "email", "n": 0})
        worker = OperationsWorker("w1", queue, handlers=_registry([]), log=None)
        queue.register_worker("w1")
        task = queue.get_task("w1", timeout=0)
        queue.client.lrem(queue.keys.processing("w1"), 1, task.id)  # another worker's reaper
        assert worker.process(task) == "refused"
        assert queue._claimed == {}

    def test_prefetch_is_refused_with_one_line(self, queue):
        with pytest.raises(ValueError, match="prefetch=1"):
            OperationsWorker("w1", queue, prefetch=4, log=None)


def _registry(ran):
    from session5_recovery.workers import HandlerRegistry

    registry = HandlerRegistry()

    @registry.register("email")
    def email(data, context):
        ran.append(data["n"])

    return registry


def test_the_command_line_refuses_a_zero_limit_in_one_line(redis_url, queue_name):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "session9_operations", "--redis-url", redis_url,
                             "--queue", queue_name, "ratelimit", "set", "email", "0/m"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == ("error: a rate limit must allow at least 1 task per window, got "
                             "limit=0; to stop a task type altogether, pause the queue instead\n")


class TestCommandLine:
    """``python -m session9_operations ratelimit ...``, through its ``main``."""

    def run(self, capsys, redis_url, queue_name, *words):
        code = main(["--redis-url", redis_url, "--queue", queue_name, "ratelimit", *words])
        return code, capsys.readouterr()

    @pytest.mark.parametrize("text", ["-3/s", "-1/m", "-2/0.5"])
    def test_a_negative_limit_needs_no_double_dash_and_gets_our_own_line(
            self, capsys, redis_url, redis_client, queue_name, text):
        code, out = self.run(capsys, redis_url, queue_name, "set", "email", text)
        count = text.split("/")[0]
        assert (code, out.out) == (2, "")
        assert out.err == (f"error: a rate limit must allow at least 1 task per window, got "
                           f"limit={count}; to stop a task type altogether, pause the queue "
                           f"instead\n")
        assert RateLimiter(RedisTaskQueue(client=redis_client, queue_name=queue_name)).limits() == {}

    def test_a_good_limit_is_set_and_listed(self, capsys, redis_url, queue_name):
        assert self.run(capsys, redis_url, queue_name, "set", "email", "10/m") == (0, ("email: 10 per 60 s\n", ""))
        assert self.run(capsys, redis_url, queue_name, "list")[1].out == "email: 10 per 60 s\n"

    def test_an_unknown_option_is_still_refused_by_argparse(self, capsys, redis_url, queue_name):
        with pytest.raises(SystemExit) as stopped:
            self.run(capsys, redis_url, queue_name, "set", "email", "10/m", "--fast")
        assert stopped.value.code == 2
        assert "unrecognized arguments: --fast" in capsys.readouterr().err

    def test_remove_without_a_type_is_a_usage_line(self, capsys, redis_url, queue_name):
        with pytest.raises(SystemExit) as stopped:
            self.run(capsys, redis_url, queue_name, "remove")
        assert stopped.value.code == 2
        assert "error: ratelimit remove TASK_TYPE" in capsys.readouterr().err
