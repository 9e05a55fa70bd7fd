"""The demos run as a learner runs them, and say what the README quotes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from workshop.paths import REPO_ROOT

pytestmark = [pytest.mark.redis, pytest.mark.multiprocess, pytest.mark.slow]


def test_bulk_email_sends_every_message_once_with_one_bar_on_the_dashboard(redis_url):
    """30 messages at 10 a second: each reaches the SMTP server once, and the workflow's
    events (what session 6's dashboard draws a bar from) go 0, 1, ..., 30 of 30, then
    completed, no faster than the limit allows (30 admissions span at least 2 s)."""
    result = subprocess.run(
        [sys.executable, "demos/bulk_email.py", "--count", "30", "--rate", "10/s",
         "--port", "17804"],
        cwd=REPO_ROOT / "session9_operations", capture_output=True, text=True, timeout=120,
        env={**os.environ, "REDIS_URL": redis_url})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "received 30 messages for 30 tasks (0 duplicates), all 30 queued: True" in out
    assert ("the bar (workflow_progress events): 0 to 30 of 30, one step at a time: True; "
            "workflow_completed: True") in out
    assert "the limit allows no less than 2 s: True" in out
    assert "bar   30/30" in out


def test_webhooks_survive_a_receiver_killed_and_restarted(redis_url):
    """Every webhook arrives at least once though the receiver is killed and restarted
    mid-run; every copy of one task's webhook carries the same delivery id."""
    result = subprocess.run(
        [sys.executable, "demos/webhooks_restart.py", "--port", "17806"],
        cwd=REPO_ROOT / "session9_operations", capture_output=True, text=True, timeout=120,
        env={**os.environ, "REDIS_URL": redis_url})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "delivered: 35 of 35 (30 completed, 5 dead-lettered)" in out
    assert "forged signature: 401" in out and "replay 10 minutes old: 401" in out
    assert "every task has exactly one delivery id, on every copy: True" in out
