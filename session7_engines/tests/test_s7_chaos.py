"""kill -9 in the middle of a task, per engine, and random SIGKILLs on our Streams consumer.

Run them alone with ``pytest -m chaos session7_engines -s``: each prints its figures.
The process killed is the one running the task (it writes its pid to the ledger
when it starts: Dramatiq's worker process, RQ's work horse, Celery's pool child,
our consumer). Recovery delays are reported, and asserted only against bounds
that hold at ten times the load.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from session7_engines import settings
from session7_engines.compare import image_tasks, kill_mid_task, wait_for
from session7_engines.runners import RUNNERS, StreamsRunner

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.redis,
    pytest.mark.multiprocess,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

# Comes back once the dead worker's lease expires (3 s) and someone looks; ten times
# that is still far below this bound.
RECOVERY_BOUND_S = 60.0
RECOMMENDED = ["session5", "dramatiq", "rq", "celery", "streams"]
DEFAULTS = {"celery": "FAILURE in the result backend",  # acked before it ran: never redelivered
            "rq": "failed job registry"}                 # no Retry: the first death is final


@pytest.fixture(scope="module")
def kills(redis_target, tmp_path_factory) -> dict[tuple[str, str], dict]:
    """Every kill -9 scenario, run side by side (each is mostly waiting for a timeout)."""
    jobs = [(e, "recommended") for e in RECOMMENDED] + [(e, "defaults") for e in DEFAULTS]
    # Folders made here, before the threads: pytest creates its base folder on first use,
    # and two threads doing that at once collide (FileExistsError).
    workdirs = {job: tmp_path_factory.mktemp(f"kill-{job[0]}-{job[1]}") for job in jobs}

    def scenario(job: tuple[str, str]) -> dict:
        engine, profile = job
        with RUNNERS[engine](redis_target.url, workdirs[job], profile=profile) as runner:
            runner.start(1)
            row = kill_mid_task(runner, RECOVERY_BOUND_S)
        print(f"\nKILL {engine} {profile}: {row}")
        return row

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return dict(zip(jobs, pool.map(scenario, jobs), strict=True))


@pytest.mark.parametrize("engine", RECOMMENDED)
def test_a_task_whose_worker_is_killed_comes_back_and_completes(engine, kills):
    row = kills[engine, "recommended"]
    assert row.get("came_back"), f"{engine}: the killed task did not run again: {row}"
    assert row["ended"] == "completed", f"{engine}: {row}"
    assert row["runs"] == 2, f"{engine}: expected the killed run and one more: {row}"
    assert 0 <= row["recovery_s"] < RECOVERY_BOUND_S


@pytest.mark.parametrize("engine", sorted(DEFAULTS))
def test_with_defaults_a_killed_task_is_not_run_again(engine, kills):
    row = kills[engine, "defaults"]
    assert row["runs"] == 1 and not row["came_back"], f"{engine}: {row}"
    assert row["ended"] == DEFAULTS[engine], f"{engine}: {row}"


def test_streams_consumers_under_random_sigkills_complete_each_task_exactly_once(
        redis_target, tmp_path):
    """3 consumers, a busy one SIGKILLed every 0.5-1 s and replaced, until 132 tasks are done."""
    seed = int(os.environ.get("CHAOS_SEED", random.randrange(1_000_000)))
    print(f"\nCHAOS_SEED={seed}")
    rng = random.Random(seed)
    tasks = image_tasks(tmp_path, 72, "storm")
    tasks += [(f"storm-sleep-{n}", {"type": "sleep", "seconds": round(rng.uniform(0.1, 0.3), 3)})
              for n in range(60)]
    rng.shuffle(tasks)
    ids = [t for t, _ in tasks]
    # Many deliveries allowed: this is about losing nothing, not about the poison limit.
    with StreamsRunner(redis_target.url, tmp_path, min_idle_ms=1500, max_deliveries=20) as runner:
        runner.start(3)
        runner.enqueue_many(tasks)
        kills, samples, checked, violations, started = 0, 0, 0, [], time.monotonic()
        next_kill = time.monotonic() + rng.uniform(0.5, 1.0)
        while runner.client.llen(runner.streams.done) < len(ids) + 1:  # + the warm-up
            assert time.monotonic() - started < 180, "not drained after 180 s"
            if time.monotonic() >= next_kill and kills < 12:
                busy = [pid for t in ids if (pid := _running(runner, t))]
                if busy:
                    os.kill(rng.choice(busy), signal.SIGKILL)
                    kills += 1
                next_kill = time.monotonic() + rng.uniform(0.5, 1.0)
            runner.supervise()
            samples += 1
            if counts := _accounting(runner):
                checked += 1
                if sum(counts) != len(ids) + 1:  # + the warm-up task
                    violations.append(counts)
            time.sleep(0.02)
        done = Counter(runner.client.lrange(runner.streams.done, 0, -1))
        pending = runner.client.xpending(runner.streams.stream, runner.streams.group)["pending"]
        dead = runner.client.xlen(runner.streams.dead)
        runs = Counter(len(runner.runs(t)) for t in ids)
    print(f"STREAMS STORM kills={kills} restarts={runner.restarts} runs-per-task={dict(runs)} "
          f"accounting samples={samples} checked={checked} violations={len(violations)}")
    assert kills >= 3, "the run was too short to kill anything much"
    assert checked > samples // 2, f"the group's lag was reported in {checked} of {samples} samples"
    assert not violations, (f"not yet delivered + pending + done + dead != tasks in "
                            f"{len(violations)} of {samples} samples, e.g. {violations[:3]}")
    assert [t for t in ids if done[t] != 1] == [], "every task completed exactly once"
    assert pending == 0, f"{pending} entries still pending (unacked) after the run"
    assert dead == 0, f"{dead} task(s) dead-lettered; none should have been"
    assert sum(runs.values()) == len(ids) and 0 not in runs, f"runs per task: {runs}"


def _accounting(runner: StreamsRunner) -> tuple[int, int, int, int] | None:
    """(not yet delivered, pending, done, dead), read in one MULTI/EXEC: one moment in time.

    Every entry is in exactly one of the four (session 5's conservation invariant, for a
    stream). None if this Redis does not report the group's lag (before 7.0).
    """
    q = runner.streams
    with runner.client.pipeline(transaction=True) as pipe:
        pipe.xinfo_groups(q.stream).xpending(q.stream, q.group).llen(q.done).xlen(q.dead)
        groups, pending, done, dead = pipe.execute()
    lag = next((g.get("lag") for g in groups if g["name"] == q.group), None)
    return None if lag is None else (int(lag), int(pending["pending"]), int(done), int(dead))


def _running(runner: StreamsRunner, task_id: str) -> int | None:
    """The pid running ``task_id`` now: started, not done, process alive."""
    starts = runner.runs(task_id)
    if not starts or runner.ended(task_id):
        return None
    pid = starts[-1][1]
    alive = {p.pid for p in runner.processes if p.poll() is None}
    return pid if pid in alive else None


def test_poison_ends_in_the_dead_letter_stream_after_max_deliveries(redis_target, tmp_path):
    with StreamsRunner(redis_target.url, tmp_path, min_idle_ms=500) as runner:
        runner.start(1)
        runner.enqueue("poison", {"type": "crash"})
        wait_for(lambda: runner.supervise() >= 0 and runner.ended("poison"), 60, every=0.05)
        ended, runs = runner.ended("poison"), len(runner.runs("poison"))
    assert ended == "dead-letter stream", f"the poison task ended in {ended!r}"
    assert runs == settings.MAX_RETRIES, f"ran {runs} times, expected max_deliveries"
