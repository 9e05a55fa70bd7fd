"""Schedules and the scheduler, with a fake clock and direct ``tick()`` calls.

The lease is a real Redis key with a real TTL; a lease that "expires" in a test is
one the test deletes, which is what Redis does when the TTL runs out.
"""

import time

import pytest

from session8_workflows import LeaderLease, Schedule, ScheduleError, Scheduler, plan_firings

pytestmark = pytest.mark.redis

EVERY_10 = Schedule("ten", {"type": "noop"}, every=10, misfire_grace=60)


def scheduler(queue, fake_clock, name="s1", schedules=(EVERY_10,)):
    return Scheduler(queue, list(schedules), scheduler_id=name, clock=fake_clock, log=None,
                     lease_ttl=30, tick_interval=0.1)


# --- the rules, as pure functions ---------------------------------------------------


class TestPlan:
    def test_on_time_due_times_fire_each_once(self):
        fire, handled = plan_firings(EVERY_10, last=100, now=131)
        assert fire == [110, 120, 130] and handled == 130

    def test_catch_up_once_fires_the_latest_missed_one_once(self):
        s = Schedule("s", {"type": "noop"}, every=10, misfire="catch_up_once", misfire_grace=5)
        fire, handled = plan_firings(s, last=100, now=1003)
        # 110 .. 990 were missed (older than 5 s): only 990 fires; 1000 is on time.
        assert fire == [990, 1000] and handled == 1000

    def test_skip_fires_none_of_the_missed(self):
        s = Schedule("s", {"type": "noop"}, every=10, misfire="skip", misfire_grace=5)
        assert plan_firings(s, last=100, now=1003) == ([1000], 1000)
        assert plan_firings(s, last=100, now=1007) == ([], 1000), "1000 is 7 s old: missed"

    def test_cron_with_seconds(self):
        s = Schedule("s", {"type": "noop"}, cron="* * * * * */2", misfire_grace=60)
        fire, _ = plan_firings(s, last=1_000_000, now=1_000_006.5)
        assert fire == [1_000_002, 1_000_004, 1_000_006]

    def test_the_firing_id_is_the_schedule_and_its_due_time(self):
        assert EVERY_10.task_id(120.0) == "sched:ten:120000"
        assert EVERY_10.task_id(120.0) == Schedule("ten", {"x": 1}, every=10).task_id(120)


@pytest.mark.parametrize("kwargs, message", [
    ({"cron": "61 * * * *"}, "invalid cron expression '61 \\* \\* \\* \\*'"),
    ({"cron": "every day"}, "invalid cron expression"),
    ({}, "exactly one of cron="),
    ({"cron": "* * * * *", "every": 5}, "exactly one of cron="),
    ({"every": 0}, "every= must be"),
    ({"every": 5, "misfire": "later"}, "misfire must be one of"),
])
def test_a_bad_schedule_is_one_line(kwargs, message):
    with pytest.raises(ScheduleError, match=message) as caught:
        Schedule("s", {"type": "noop"}, **kwargs)
    assert "\n" not in str(caught.value)


def test_a_schedule_in_the_past_is_refused_before_anything_is_written(queue, fake_clock, written):
    past = Schedule("old", {"type": "noop"}, every=5, until=fake_clock() - 60)
    with pytest.raises(ScheduleError, match="is in the past"):
        scheduler(queue, fake_clock, schedules=[past])
    assert written() == []


# --- the scheduler --------------------------------------------------------------------


def test_the_leader_fires_each_due_time_once_and_followers_fire_nothing(queue, fake_clock):
    a, b = scheduler(queue, fake_clock, "a"), scheduler(queue, fake_clock, "b")
    assert a.tick().leader and not b.tick().leader
    start = fake_clock()  # 1_000_000: a multiple of 10
    fake_clock.advance(25)
    report = a.tick()
    assert report.fired == [EVERY_10.task_id(start + 10), EVERY_10.task_id(start + 20)]
    assert b.tick().fired == [] and a.tick().fired == [], "a due time fired twice"
    assert queue.get_stats()["enqueued"] == 2


def test_a_new_leader_after_the_lease_expired_goes_on_where_the_old_one_stopped(queue, fake_clock):
    a, b = scheduler(queue, fake_clock, "a"), scheduler(queue, fake_clock, "b")
    a.tick()
    fake_clock.advance(10)
    assert len(a.tick().fired) == 1
    queue.client.delete(queue.s8.leader)  # a was killed: its lease expires
    fake_clock.advance(10)
    report = b.tick()
    assert report.leader and report.fired == [EVERY_10.task_id(fake_clock())]
    assert not a.tick().leader, "the old leader came back and took the lease from b"


def test_a_restart_mid_firing_refires_the_same_id_and_is_refused(queue, fake_clock):
    """The leader enqueued a due time and died before recording it: the next leader repeats it."""
    a = scheduler(queue, fake_clock, "a")
    a.tick()
    handled_before = queue.client.hget(queue.s8.last_due, "ten")
    fake_clock.advance(10)
    a.tick()
    queue.client.hset(queue.s8.last_due, "ten", handled_before)  # the record never happened
    queue.client.delete(queue.s8.leader)
    b = scheduler(queue, fake_clock, "b")
    report = b.tick()
    assert report.fired == [] and report.refused == [EVERY_10.task_id(fake_clock())]
    assert queue.get_stats()["enqueued"] == 1


def test_a_zombie_leader_cannot_record_and_stops_firing(queue, fake_clock):
    a, b = scheduler(queue, fake_clock, "a"), scheduler(queue, fake_clock, "b")
    a.tick()
    queue.client.delete(queue.s8.leader)
    b.tick()  # b leads now; a still believes it does (it was frozen)
    fake_clock.advance(10)
    a.lease.hold = lambda: True  # frozen past its TTL: a never noticed
    a.lease.leading = True
    report = a.tick()
    assert a.lease.leading is False, "mark_fired accepted a token that is not the leader's"
    assert b.tick().refused == report.fired, "the zombie's firing ran twice"
    assert queue.get_stats()["enqueued"] == 1


def test_pausing_the_queue_loses_no_firing(queue, fake_clock):
    a = scheduler(queue, fake_clock)
    a.tick()
    queue.pause()
    fake_clock.advance(30)
    assert len(a.tick().fired) == 3
    assert queue.get_task("w1", timeout=0) is None, "a paused queue handed out a task"
    queue.resume()
    claimed = [queue.get_task("w1", timeout=0).id for _ in range(3)]
    assert claimed == [EVERY_10.task_id(fake_clock() - 20 + 10 * i) for i in range(3)]


def test_the_lease_is_fenced_by_its_token(queue):
    a, b = LeaderLease(queue, "a", ttl=30), LeaderLease(queue, "b", ttl=30)
    assert a.hold() and not b.hold()
    assert not b.release(), "b released a lease it does not hold"
    assert a.holder() == a.token
    assert a.release() and b.hold()
    assert 0 < queue.client.pttl(queue.s8.leader) <= 30_000


def test_the_lease_expires_by_itself(queue):
    a, b = LeaderLease(queue, "a", ttl=0.2), LeaderLease(queue, "b", ttl=0.2)
    assert a.hold()
    # Redis's own clock expires the key: poll Redis for it (bounded), then look.
    deadline = time.monotonic() + 10
    while queue.client.exists(queue.s8.leader) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert b.hold() and not a.hold()
