"""The command line and the flagship demo, run as a learner would run them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from session5_recovery.demos import demo_flagship
from session5_recovery.workers import RedisTaskQueue
from workshop.paths import REPO_ROOT

pytestmark = pytest.mark.redis


def cli(redis_url, queue_name, *args, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "session5_recovery.workers", *args, "--redis-url", redis_url,
         "--queue", queue_name],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def test_stats_json_is_pure_json(redis_url, queue_name):
    result = cli(redis_url, queue_name, "stats", "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["enqueued"] == 0 and stats["conservation_holds"] is True


def test_enqueue_work_dlq_replay_purge(redis_url, redis_client, queue_name):
    result = cli(redis_url, queue_name, "enqueue", "--task", '{"type": "noop"}', "--repeat", "3")
    assert result.returncode == 0, result.stderr
    assert "queued 3 task(s)" in result.stdout
    result = cli(redis_url, queue_name, "enqueue", "--task", '{"type": "fail"}', "--max-attempts", "1")
    assert "queued 1 task(s)" in result.stdout and "pending now: 4" in result.stdout
    result = cli(redis_url, queue_name, "worker", "--burst", "--heartbeat-interval", "0.2",
                 "--heartbeat-ttl", "1")
    assert result.returncode == 0, result.stderr
    assert "3 completed" in result.stdout and "1 dead-lettered" in result.stdout
    listing = cli(redis_url, queue_name, "dlq", "list", "--json")
    (dead,) = json.loads(listing.stdout)
    assert dead["type"] == "fail" and dead["reason"].startswith("failed 1 of 1 attempts")
    assert cli(redis_url, queue_name, "dlq", "replay", "nope").returncode == 1
    replay = cli(redis_url, queue_name, "dlq", "replay", dead["id"])
    assert "replayed 1" in replay.stdout
    assert json.loads(cli(redis_url, queue_name, "stats", "--json").stdout)["pending"] == 1
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name)
    task = queue.get_task("hand", timeout=0)
    queue.mark_failed(task.id, "again", permanent=True)
    assert cli(redis_url, queue_name, "dlq", "purge").returncode != 0, "purge wants --yes"
    assert "purged 1" in cli(redis_url, queue_name, "dlq", "purge", "--yes").stdout
    events = cli(redis_url, queue_name, "events", "--count", "100").stdout
    assert "DEAD-LETTERED" in events and "replayed from the DLQ" in events
    assert queue.conservation().holds


def test_reap_recovers_a_dead_workers_task(redis_url, redis_client, queue_name):
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name)
    task_id = queue.add_task({"type": "noop"})
    queue.get_task("ghost", timeout=0)
    redis_client.delete(queue.keys.heartbeat("ghost"))
    result = cli(redis_url, queue_name, "reap")
    assert result.returncode == 0 and f"task {task_id} requeued" in result.stdout
    assert queue.locate(task_id) == ["pending"]


def test_monitor_once_shows_counts_workers_and_events(redis_url, redis_client, queue_name):
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name)
    queue.add_task({"type": "noop"})
    queue.register_worker("w-monitor")
    result = cli(redis_url, queue_name, "monitor", "--once")
    assert result.returncode == 0, result.stderr
    for words in ("pending", "invariant", "holds", "w-monitor", "alive", "enqueued (noop)"):
        assert words in result.stdout, f"{words!r} missing from:\n{result.stdout}"


def test_no_redis_is_one_message_and_exit_1():
    result = cli("redis://127.0.0.1:1/0", "q", "stats")
    assert result.returncode == 1
    assert "Cannot connect to Redis" in result.stderr and "Traceback" not in result.stderr


def test_bad_heartbeat_settings_are_explained(redis_url, queue_name):
    result = cli(redis_url, queue_name, "worker", "--heartbeat-interval", "2", "--heartbeat-ttl", "3")
    assert result.returncode != 0 and "at least twice" in result.stderr


@pytest.mark.multiprocess
@pytest.mark.slow
def test_the_flagship_demo_tells_the_whole_story(redis_url, queue_name, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", redis_url)
    code = demo_flagship.main(["--images", "4", "--queue", queue_name])
    out = capsys.readouterr().out
    assert code == 0, out
    for words in ("kill -9", "recovered", "dead-lettered  poison", "flaky tasks succeeded",
                  "== enqueued", "timeline of the slow job"):
        assert words in out, f"{words!r} missing from the demo's output"


def test_dlq_options_before_or_after_the_action():
    from session5_recovery.tools.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["dlq", "--queue", "a", "list"]).queue == "a"
    assert parser.parse_args(["dlq", "list", "--queue", "b"]).queue == "b"
    assert parser.parse_args(["dlq", "purge", "--yes"]).queue == "image_processing"


def test_enqueue_with_a_delay_puts_the_tasks_in_the_delayed_set(redis_url, queue_name):
    result = cli(redis_url, queue_name, "enqueue", "--task", '{"type": "noop"}', "--repeat", "2",
                 "--delay", "3600")
    assert result.returncode == 0, result.stderr
    assert "queued 2 task(s)" in result.stdout and "pending now: 0, delayed now: 2" in result.stdout
    stats = json.loads(cli(redis_url, queue_name, "stats", "--json").stdout)
    assert (stats["delayed"], stats["pending"], stats["conservation_holds"]) == (2, 0, True)
    refused = cli(redis_url, queue_name, "enqueue", "--task", '{"type": "noop"}', "--delay", "-1")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "--delay: must be a number of seconds from 0" in refused.stderr
