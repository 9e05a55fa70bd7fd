"""Bad tasks that used to kill a session 5 worker or hang it: each now fails alone, saying why.

Every test runs a real worker (in this process, burst mode) on the shared Redis
under a queue name of its own, and checks three things: the bad task ended where it
should with its real reason, the worker kept going, and the good task after it
completed. Figures: tasks accepted, completed, dead-lettered, run twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from _chaos_helpers import record_figures

from session5_recovery.workers import RecoverySettings, RedisTaskQueue, RedisWorker, TaskStatus
from session5_recovery.workers.handlers import default_handlers
from session5_recovery.workers.time_limits import TaskTimeLimitExceeded, time_limit
from workshop.images import make_sample_images
from workshop.waiting import wait_until

pytestmark = pytest.mark.redis

FAST = dict(heartbeat_interval=0.1, heartbeat_ttl=1.0, reap_interval=0.1, claim_timeout=0.1,
            backoff_base=0.01, backoff_cap=0.02)


def run_burst(queue: RedisTaskQueue, allowed: Path, **worker_options) -> RedisWorker:
    worker = RedisWorker("w1", queue, allowed_dirs=[allowed], log=None, **worker_options)
    worker.start(burst=True, handle_signals=False)
    return worker


def outcome(queue: RedisTaskQueue, task_id: str):
    task = queue.get_task_info(task_id)
    assert task is not None
    return task


def figures(queue: RedisTaskQueue, name: str, accepted: int) -> dict:
    stats = queue.get_stats()
    claims = [e for e in queue.events(None) if e.name == "completed"]
    twice = len(claims) - len({e.task_id for e in claims})
    data = {"accepted": accepted, "completed": stats["completed"],
            "dead_lettered": stats["dead_lettered"],
            "lost": accepted - stats["total"], "completed_twice": twice}
    record_figures(name, data)
    return data


@pytest.fixture
def images(tmp_path) -> Path:
    make_sample_images(tmp_path, 1)
    return next(p for p in tmp_path.iterdir() if p.is_file())


@pytest.fixture
def queue(redis_client, queue_name) -> RedisTaskQueue:
    return RedisTaskQueue(client=redis_client, queue_name=queue_name,
                          settings=RecoverySettings(**FAST, max_attempts=2))


@pytest.mark.parametrize("field", ["image_path", "output_path"])
def test_a_lone_surrogate_in_a_path_fails_that_task_with_its_real_reason(field, queue, images,
                                                                         tmp_path):
    good_output = str(tmp_path / "good.png")
    bad = {"image_path": str(images), "output_path": str(tmp_path / "out.png\udc80")}
    if field == "image_path":
        bad["image_path"] = str(tmp_path / "in\udc80.jpg")
    bad_id = queue.add_task(bad)
    good_id = queue.add_task({"image_path": str(images), "output_path": good_output})
    worker = run_burst(queue, tmp_path)
    task = outcome(queue, bad_id)
    assert task.status is TaskStatus.DEAD_LETTERED
    assert "\\udc80" in task.reason, "the path is shown, escaped, in the reason"
    expected = "found nothing" if field == "image_path" else "no image format is known"
    assert expected in task.reason, task.reason
    assert task.attempts == 1, "permanent: one attempt, not three dead workers"
    assert outcome(queue, good_id).status is TaskStatus.COMPLETED
    assert worker.counts.completed == 1 and worker.counts.dead_lettered == 1
    assert figures(queue, f"surrogate-{field}", 2) == {
        "accepted": 2, "completed": 1, "dead_lettered": 1, "lost": 0, "completed_twice": 0}


def test_output_path_equal_to_image_path_is_refused_and_the_input_kept(queue, images, tmp_path):
    before = images.read_bytes()
    task_id = queue.add_task({"image_path": str(images), "output_path": str(images)})
    run_burst(queue, tmp_path)
    task = outcome(queue, task_id)
    assert task.status is TaskStatus.DEAD_LETTERED and "same file as 'image_path'" in task.reason
    assert images.read_bytes() == before, "the input was not overwritten"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_as_image_path_is_named_as_such(queue, tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    task_id = queue.add_task({"image_path": str(fifo), "output_path": str(tmp_path / "o.png")})
    run_burst(queue, tmp_path)  # would block for ever if the worker opened the FIFO
    task = outcome(queue, task_id)
    assert task.status is TaskStatus.DEAD_LETTERED and "a FIFO (named pipe)" in task.reason


def test_a_handler_that_never_returns_is_stopped_and_retried_then_dead_lettered(queue, tmp_path):
    handlers = default_handlers()
    runs = []

    @handlers.register("hang", time_limit=0.3)
    def hang(data, context):
        runs.append(context.attempt)
        threading.Event().wait(3600)  # a call that never comes back

    hung = queue.add_task({"type": "hang"})
    slow = queue.add_task({"type": "sleep", "seconds": 0.5})  # the default limit applies
    good = queue.add_task({"type": "noop"})
    queue.settings = queue.settings.replace(task_time_limit=0.2)
    run_burst(queue, tmp_path, handlers=handlers)
    task = outcome(queue, hung)
    assert runs == [1, 2], "each attempt ran once, and was interrupted"
    assert task.status is TaskStatus.DEAD_LETTERED and "time limit of 0.3 s" in task.reason
    assert [h["error"].split(":")[0] for h in task.history] == ["TaskTimeLimitExceeded"] * 2
    assert "time limit of 0.2 s" in outcome(queue, slow).reason, "the default limit"
    assert outcome(queue, good).status is TaskStatus.COMPLETED
    assert figures(queue, "time-limit", 3) == {
        "accepted": 3, "completed": 1, "dead_lettered": 2, "lost": 0, "completed_twice": 0}


def test_the_time_limit_interrupts_the_main_thread_with_an_alarm():
    if not hasattr(os, "fork"):
        pytest.skip("needs fork")
    # In a child: pytest-timeout may hold the parent's alarm (then the watchdog is used).
    code = ("import time\nfrom session5_recovery.workers.time_limits import time_limit, "
            "TaskTimeLimitExceeded\ntry:\n    with time_limit(0.2):\n        time.sleep(60)\n"
            "except TaskTimeLimitExceeded as e:\n    print('stopped:', e)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert "stopped: the task ran longer than its time limit of 0.2 s" in result.stdout, result


def test_a_time_limit_that_is_not_reached_changes_nothing():
    with time_limit(30):
        value = sum(range(1000))
    assert value == 499500
    with pytest.raises(TaskTimeLimitExceeded):
        with time_limit(0.05):
            threading.Event().wait(60)  # main thread: a signal wakes even a blocking wait


def test_the_time_limit_stops_an_endless_loop_in_another_thread():
    caught: list[BaseException] = []

    def endless() -> None:
        try:
            with time_limit(0.1, "the loop"):
                while True:
                    sum(range(100))
        except TaskTimeLimitExceeded as error:
            caught.append(error)

    thread = threading.Thread(target=endless)
    thread.start()
    thread.join(60)
    assert not thread.is_alive() and "the loop ran longer than its time limit" in str(caught[0])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="children are found in /proc")
def test_child_processes_a_handler_started_do_not_outlive_its_worker(queue, redis_url, tmp_path):
    queue.add_task({"type": "spawn-and-hang"}, max_attempts=1)
    queue.add_task({"type": "spawn"})
    # The worker runs in a process of its own, as the CLI's does: it kills only its own children.
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from session5_recovery.workers import RecoverySettings, RedisTaskQueue, RedisWorker\n"
        "from test_faults_handlers import child_handlers\n"
        f"queue = RedisTaskQueue(url={redis_url!r}, queue_name={queue.queue_name!r}, "
        f"settings=RecoverySettings(**{FAST!r}))\n"
        "worker = RedisWorker('w1', queue, handlers=child_handlers(), log=print, "
        "kill_children=True)\n"
        "worker.start(burst=True)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    pids = [int(part.split()[0]) for part in result.stdout.split("CHILD ")[1:]]
    assert len(pids) == 2, result.stdout
    for pid in pids:
        wait_until(lambda pid=pid: not _alive(pid), 10, f"child {pid} to be gone")
    assert "killed 1 child process(es) a handler had started (its handler ran out of time)" \
        in result.stdout
    assert "killed 1 child process(es) a handler had started (worker stopping)" in result.stdout
    stats = queue.get_stats()
    assert (stats["completed"], stats["dead_lettered"]) == (1, 1)


def child_handlers():
    """The handlers of the child-process test (imported by the worker process it starts)."""
    handlers = default_handlers()

    @handlers.register("spawn")
    def spawn(data, context):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(f"CHILD {child.pid}", flush=True)
        return {"pid": child.pid}

    @handlers.register("spawn-and-hang", time_limit=0.3)
    def spawn_and_hang(data, context):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(f"CHILD {child.pid}", flush=True)
        child.wait()

    return handlers


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"
