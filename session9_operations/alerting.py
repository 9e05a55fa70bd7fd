"""Check and test the alerting rules in ``alerts/`` with Prometheus's own ``promtool``.

promtool is the tool Prometheus ships for exactly this: ``check rules`` parses a
rule file as the server would, and ``test rules`` evaluates the rules over series
a test file writes, at the times it names, and compares the alerts that fire.
This module only runs it and turns its verdict into one clear line.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from session5_recovery.workers import RedisTaskQueue

from .autoscale import read_signals

ALERTS_DIR = Path(__file__).with_name("alerts")
RULES = ALERTS_DIR / "workshop.yml"
RULE_TESTS = ALERTS_DIR / "tests" / "workshop_test.yml"
HOW_TO_GET_PROMTOOL = ("promtool is not installed: `sudo apt-get install prometheus` (Debian, "
                       "Ubuntu) or the prometheus release archive from prometheus.io, which "
                       "contains it")


class RuleFileError(ValueError):
    """A rule file Prometheus would refuse to load."""


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        raise FileNotFoundError(HOW_TO_GET_PROMTOOL)
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=60)


def check_rules(path: Path = RULES) -> int:
    """The number of rules in ``path``; RuleFileError naming the first problem if any."""
    result = _run("check", "rules", str(path))
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines()
                 if line.strip() and "FAILED" not in line and not line.startswith("Checking")]
        first = lines[0].removeprefix(f"{path}: ") if lines else "promtool refused it"
        raise RuleFileError(f"{path.name}: {first}")
    found = [line for line in result.stdout.splitlines() if "rules found" in line]
    return int(found[0].split("SUCCESS:")[1].split()[0]) if found else 0


def test_rules(path: Path = RULE_TESTS) -> str:
    """Run the rule tests in ``path``; promtool's report, RuleFileError if any case failed."""
    result = _run("test", "rules", str(path))
    if result.returncode != 0:
        raise RuleFileError(f"{path.name}: promtool test rules failed:\n{result.stdout}{result.stderr}")
    return result.stdout


test_rules.__test__ = False  # a library function, not a pytest test


# --- the conditions that hold now, for a dashboard --------------------------------
# The same thresholds as alerts/workshop.yml (a test checks that they agree). Only the
# conditions a single look can tell; those about growth over minutes (workers lost, DLQ
# growing, webhooks failing) need history, which is what Prometheus keeps.
OLDEST_PENDING_LIMIT = 300.0  # seconds: OldestPendingTaskTooOld


@dataclass(frozen=True)
class Condition:
    """One alert condition now: whether it holds, the value it looks at and its threshold."""

    alert: str
    holds: bool
    detail: str
    value: float
    threshold: str


def conditions_now(queue: RedisTaskQueue) -> list[Condition]:
    """The alert conditions a dashboard can show from one look at the queue."""
    signals, _ = read_signals(queue, time.time())
    return [
        Condition("OldestPendingTaskTooOld", signals.oldest_age > OLDEST_PENDING_LIMIT,
                  f"oldest pending task waited {signals.oldest_age:.0f} s "
                  f"(alert above {OLDEST_PENDING_LIMIT:.0f} s, for 2 minutes)",
                  round(signals.oldest_age, 1), f"above {OLDEST_PENDING_LIMIT:.0f} s"),
        Condition("NoLiveWorker", signals.workers == 0 and signals.backlog > 0,
                  f"{signals.workers} live workers, {signals.backlog} tasks pending",
                  signals.workers, "0 live workers while tasks are pending"),
    ]
