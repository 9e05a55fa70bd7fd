"""``python -m session6_api.workers``: session 5's commands under session 6's name and defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from session5_recovery.tools.cli import build_parser
from session6_api.config import ApiConfig
from session6_api.workers import program
from workshop.paths import REPO_ROOT


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "session6_api.workers", *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_help_names_session_6_and_says_serve_runs_the_workers():
    result = run("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m session6_api.workers")
    assert "session5_recovery" not in result.stdout
    assert "python -m session6_api serve` already runs the workers" in " ".join(result.stdout.split())


def test_defaults_are_session_6s_settings():
    config = ApiConfig.from_env({"QUEUE_NAME": "from-env"})
    args = build_parser(program(config)).parse_args(["enqueue", "--count", "1"])
    assert args.queue == "from-env"
    assert args.output == config.results_dir
    assert args.program.samples_dir == config.samples_dir


@pytest.mark.redis
def test_enqueue_uses_queue_name_and_points_at_serve(redis_url, queue_name):
    result = run("enqueue", "--task", '{"type": "noop"}', "--redis-url", redis_url,
                 env={"QUEUE_NAME": queue_name})
    assert result.returncode == 0, result.stderr
    assert f"queued 1 task(s) on {queue_name!r}" in result.stdout
    assert "python -m session6_api.workers worker  (python -m session6_api serve already" \
        in result.stdout
    stats = run("stats", "--json", env={"QUEUE_NAME": queue_name, "REDIS_URL": redis_url})
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["pending"] == 1
