"""The demos run as a learner runs them, and say what the README quotes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workshop.paths import REPO_ROOT

pytestmark = [pytest.mark.redis, pytest.mark.multiprocess, pytest.mark.slow]


def test_bulk_email_sends_every_message_once_through_smtp(redis_url):
    result = subprocess.run(
        [sys.executable, "demos/bulk_email.py", "--count", "30", "--rate", "10/s",
         "--port", "17804"],
        cwd=REPO_ROOT / "session9_operations", capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "REDIS_URL": redis_url})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "received 30 messages for 30 tasks (0 duplicates), all 30 queued: True" in result.stdout
    assert "sent   30/30" in result.stdout
