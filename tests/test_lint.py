"""The code learners read stays tidy: ruff (configured in pyproject.toml) finds nothing."""

import subprocess
import sys

from workshop.paths import REPO_ROOT


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"ruff check . found problems:\n{result.stdout}{result.stderr}"
