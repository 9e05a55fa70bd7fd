"""Bad arguments to session 5's command line and API: one clear line each, never a traceback.

Each case names the argument that was wrong and what is allowed. They run the CLI's
``main()`` in this process (argparse refuses them before any Redis is contacted), plus
one subprocess run to show what a learner's terminal really prints.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from session5_recovery.tools.cli import main
from session5_recovery.workers import RecoverySettings, RedisTaskQueue, RedisWorker
from workshop.paths import REPO_ROOT

DEEP_TASK = "[" * 10_000 + "]" * 10_000


def deep_dict(levels: int) -> dict:
    top: dict = {}
    node = top
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return top


# (argv, the words the one-line error must contain)
CASES = {
    "task-nested-10000-deep": (["enqueue", "--task", '{"a": ' + DEEP_TASK + "}"],
                               ["--task", "nested more than 100 levels"]),
    "queue-with-a-space": (["stats", "--queue", "a b"], ["--queue", "'a b'", "letters, digits"]),
    "heartbeat-ttl-inf": (["worker", "--heartbeat-ttl", "inf"], ["--heartbeat-ttl", "from 0.2 to"]),
    "heartbeat-interval-1e300": (["worker", "--heartbeat-interval", "1e300"],
                                 ["--heartbeat-interval", "from 0.01 to 3600"]),
    "heartbeat-ttl-0.02": (["worker", "--heartbeat-ttl", "0.02"], ["--heartbeat-ttl", "0.02"]),
    "worker-id-with-a-space": (["worker", "--id", "a b"], ["--id", "worker id", "got 'a b'"]),
    "monitor-interval-nan": (["monitor", "--interval", "nan"], ["--interval", "'nan'"]),
    "events-count-negative": (["events", "--count", "-5"], ["--count", ">= 1", "'-5'"]),
    "dlq-list-limit-negative": (["dlq", "list", "--limit", "-1"], ["--limit", ">= 1", "'-1'"]),
    "redis-url-http": (["stats", "--redis-url", "http://localhost:6379/0"],
                       ["--redis-url", "wrong scheme (http://)", "redis://"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_argument_is_one_line_naming_it(case, capsys):
    argv, words = CASES[case]
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code not in (0, None)
    err = capsys.readouterr().err
    if isinstance(stopped.value.code, str):  # SystemExit("enqueue: ...") prints its text
        err += stopped.value.code
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {lines!r:.500}"
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r:.300}"
    assert "Traceback" not in err


def test_the_terminal_shows_one_line_and_no_traceback():
    result = subprocess.run([sys.executable, "-m", "session5_recovery.workers", "events",
                             "--count", "-5"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--count" in result.stderr
    assert "Traceback" not in result.stderr


def test_add_task_with_deep_nesting_is_a_clear_error():
    # _prepare is add_task's check, run before anything is sent to Redis.
    with pytest.raises(TypeError, match=r"task data is nested more than 100 levels deep"):
        RedisTaskQueue._prepare(deep_dict(10_000), 0, None)
    assert json.dumps(deep_dict(50))  # a deep but reasonable task is fine
    RedisTaskQueue._prepare(deep_dict(50), 0, None)


@pytest.mark.parametrize("changes, words", [
    ({"heartbeat_ttl": 0.02}, "heartbeat_ttl"),
    ({"heartbeat_ttl": 0.5, "heartbeat_interval": 0.005}, "heartbeat_interval"),
    ({"heartbeat_ttl": float("inf")}, "heartbeat_ttl"),
    ({"heartbeat_interval": 1e300}, "heartbeat_interval"),
    ({"reap_interval": float("nan")}, "reap_interval"),
    ({"claim_timeout": float("inf")}, "claim_timeout"),
])
def test_settings_that_cannot_work_are_refused(changes, words):
    with pytest.raises(ValueError, match=words):
        RecoverySettings(**changes)


def test_a_worker_id_with_a_space_is_refused_before_it_registers(redis_client, queue_name):
    queue = RedisTaskQueue(client=redis_client, queue_name=queue_name)
    with pytest.raises(ValueError, match="worker_id"):
        RedisWorker("a b", queue, log=None)
    assert redis_client.zcard(queue.keys.workers) == 0, "nothing registered"
