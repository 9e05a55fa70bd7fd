"""A reaper that was itself frozen must not declare live workers dead on waking.

Time is a fake clock (the reaper's own sense of lateness) and expiry is done by
hand (what Redis does when a TTL runs out), so nothing here depends on speed.
"""

from __future__ import annotations

import pytest

from session5_recovery.workers import Heartbeat, RecoverySettings, RedisTaskQueue
from session5_recovery.workers.grace import ReapGrace

pytestmark = pytest.mark.redis

SETTINGS = RecoverySettings(heartbeat_interval=0.2, heartbeat_ttl=1.0, reap_interval=0.2)


@pytest.fixture
def queue(redis_client, queue_name) -> RedisTaskQueue:
    return RedisTaskQueue(client=redis_client, queue_name=queue_name, settings=SETTINGS)


def reaper(queue: RedisTaskQueue, fake_clock, log: list) -> Heartbeat:
    beat = Heartbeat(queue, "reaper", log=log.append)
    beat.grace = ReapGrace(queue.client, SETTINGS.heartbeat_ttl, SETTINGS.reap_interval,
                           monotonic=fake_clock)
    return beat


def run_rounds(beat: Heartbeat, fake_clock, seconds: float, alive: tuple[str, ...] = ()) -> None:
    """The reaper's loop, on time: one round per reap_interval for ``seconds``; the
    ``alive`` workers beat before each round (as their own threads would)."""
    for _ in range(round(seconds / SETTINGS.reap_interval)):
        fake_clock.advance(SETTINGS.reap_interval)
        for worker in alive:
            beat.queue.heartbeat(worker)
        beat.maintain_once()


def claimed_by_sleeper(queue: RedisTaskQueue) -> str:
    task_id = queue.add_task({"type": "noop"})
    queue.register_worker("sleeper")
    (task,) = queue.get_tasks("sleeper", 1, timeout=0)
    assert task.id == task_id
    return task_id


def test_a_late_reaper_holds_off_and_a_worker_that_beats_meanwhile_keeps_its_task(queue,
                                                                                    fake_clock):
    log: list[str] = []
    task_id = claimed_by_sleeper(queue)
    beat = reaper(queue, fake_clock, log)
    beat.maintain_once()  # on time, everyone alive
    fake_clock.advance(3.0)  # the reaper's process was frozen for three TTLs...
    queue.client.delete(queue.keys.heartbeat("sleeper"))  # ...and so was the sleeper's
    beat.maintain_once()
    assert any("reaper: holding off" in line and "was late" in line for line in log)
    assert queue.locate(task_id) == ["processing:sleeper"], "not reaped while holding off"
    run_rounds(beat, fake_clock, 1.2, alive=("sleeper",))  # the sleeper wakes up and beats
    assert queue.locate(task_id) == ["processing:sleeper"], "alive: never reaped"
    assert queue.get_task_info(task_id).attempts == 1, "no attempt burned"


def test_a_worker_that_stays_silent_is_reaped_once_the_grace_is_over(queue, fake_clock):
    log: list[str] = []
    task_id = claimed_by_sleeper(queue)
    beat = reaper(queue, fake_clock, log)
    beat.maintain_once()
    fake_clock.advance(3.0)
    queue.client.delete(queue.keys.heartbeat("sleeper"))  # really dead this time
    beat.maintain_once()
    assert queue.locate(task_id) == ["processing:sleeper"]
    run_rounds(beat, fake_clock, 0.6)
    assert queue.locate(task_id) == ["processing:sleeper"], "still within the grace"
    run_rounds(beat, fake_clock, 0.6)  # one TTL after waking
    assert queue.locate(task_id) == ["pending"], "the dead are still reaped, one TTL later"
