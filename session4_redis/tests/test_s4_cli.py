"""The command line, run as a learner runs it: ``python -m session4_redis.workers ...``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from session4_redis.workers import RedisTaskQueue
from workshop.paths import REPO_ROOT


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "session4_redis.workers", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)


@pytest.mark.redis
def test_stats_json_is_pure_json(redis_url, queue_name):
    run = cli("stats", "--json", "--redis-url", redis_url, "--queue", queue_name)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"queue": queue_name, "pending": 0, "processing": 0,
                                      "completed": 0, "failed": 0, "total": 0}


@pytest.mark.redis
def test_enqueue_then_a_burst_worker_processes_everything(redis_url, redis_client, queue_name,
                                                          tmp_path):
    common = ("--redis-url", redis_url, "--queue", queue_name)
    run = cli("enqueue", "--count", "2", "--filters", "grayscale", "--output", str(tmp_path),
              *common)
    assert run.returncode == 0, run.stderr
    assert "queued 2 image tasks" in run.stdout
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name)
    assert queue.get_stats()["pending"] == 2
    task = queue.get_task_info(queue.list_ids("pending")[0])
    assert task.data["filters"] == ["grayscale"]

    run = cli("worker", "--burst", "--id", "cli-worker", *common)
    assert run.returncode == 0, run.stderr
    assert "cli-worker: 2 completed, 0 failed" in run.stdout
    assert len(list(tmp_path.glob("*_processed.png"))) == 2


@pytest.mark.redis
def test_enqueue_refuses_an_unknown_filter_before_queueing(redis_url, redis_client, queue_name):
    run = cli("enqueue", "--count", "1", "--filters", "blurr", "--redis-url", redis_url,
              "--queue", queue_name)
    assert run.returncode == 2
    assert "blurr" in run.stderr and "Traceback" not in run.stderr
    assert RedisTaskQueue(client=redis_client, queue_name=queue_name).get_stats()["total"] == 0


@pytest.mark.redis
def test_monitor_once_prints_the_table(redis_url, redis_client, queue_name):
    RedisTaskQueue(client=redis_client, queue_name=queue_name).add_task({"type": "noop"})
    run = cli("monitor", "--once", "--redis-url", redis_url, "--queue", queue_name)
    assert run.returncode == 0, run.stderr
    for word in ("pending", "processing", "completed", "failed", "throughput"):
        assert word in run.stdout
    assert "│ pending    │     1 │" in run.stdout


@pytest.mark.redis
def test_monitor_with_a_duration_ends_by_itself(redis_url, queue_name):
    run = cli("monitor", "--duration", "0.3", "--interval", "0.1", "--redis-url", redis_url,
              "--queue", queue_name)
    assert run.returncode == 0, run.stderr
    assert "tasks/s" in run.stdout


def test_no_redis_is_one_message_and_exit_1_without_a_traceback():
    run = cli("stats", "--redis-url", "redis://127.0.0.1:1/0")
    assert run.returncode == 1
    assert "Cannot connect to Redis at redis://127.0.0.1:1/0" in run.stderr
    assert "leave out --redis-url" in run.stderr
    assert "Traceback" not in run.stderr


def test_no_server_at_all_names_make_redis_and_does_not_contradict_itself():
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    # The CLI resolves with the session's own connection module: patch that one.
    code = ("import sys; from session4_redis.workers import redis_connection as r; "
            "r.LOCAL_URL = 'redis://127.0.0.1:1/0'; "
            "from session4_redis.workers.cli import main; sys.exit(main(['stats']))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO_ROOT, env=env, timeout=60)
    assert run.returncode == 1, run.stderr
    assert "make redis" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert "the CLI cannot" not in run.stderr


@pytest.mark.redis
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX signals")
def test_ctrl_c_lets_the_current_task_finish(redis_url, redis_client, queue_name):
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name)
    slow = queue.add_task({"type": "sleep", "seconds": 1.0})
    worker = subprocess.Popen(
        [sys.executable, "-m", "session4_redis.workers", "worker", "--id", "interrupted",
         "--redis-url", redis_url, "--queue", queue_name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 20
        while queue.get_stats()["processing"] == 0:  # wait for the claim (bounded)
            assert time.monotonic() < deadline, "the worker never claimed the task"
            time.sleep(0.02)
        worker.send_signal(signal.SIGINT)
        out, err = worker.communicate(timeout=20)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    assert "stopping after the current task" in out
    assert queue.get_task_info(slow).status.value == "completed"
    assert queue.get_stats()["processing"] == 0
