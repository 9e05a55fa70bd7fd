"""The alerting rules, evaluated by promtool on series the rule tests write.

alerts/tests/workshop_test.yml holds, for each rule, a case where it fires and one
where it stays quiet; promtool evaluates them as Prometheus would. In CI promtool
must be there (.ci/run installs it); elsewhere its absence is a skip with the fix.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from session9_operations.alerting import RULE_TESTS, RULES, RuleFileError, check_rules, test_rules

if shutil.which("promtool") is None:
    if os.environ.get("CI"):
        pytest.fail("promtool is missing in CI: .ci/run should install Debian's prometheus",
                    pytrace=False)
    pytest.skip("promtool is not installed (apt-get install prometheus)", allow_module_level=True)


def test_the_rule_file_loads():
    assert check_rules(RULES) == 5


def test_every_rule_fires_and_stays_quiet_where_the_tests_say():
    assert "SUCCESS" in test_rules(RULE_TESTS)


def test_every_rule_has_a_firing_and_a_quiet_case():
    rules = re.findall(r"- alert: (\w+)", RULES.read_text())
    text = RULE_TESTS.read_text()
    for rule in rules:
        cases = re.findall(rf"alertname: {rule}\n\s+exp_alerts:(.*?)\n", text)
        assert "[]" in [c.strip() for c in cases], f"{rule} has no case where it stays quiet"
        assert "" in [c.strip() for c in cases], f"{rule} has no case where it fires"


def test_a_rule_that_would_fire_wrongly_is_caught(tmp_path):
    broken = tmp_path / "workshop.yml"
    broken.write_text(RULES.read_text().replace("> 300", "> 3"))
    tests = tmp_path / "workshop_test.yml"
    tests.write_text(RULE_TESTS.read_text().replace("../workshop.yml", "workshop.yml"))
    with pytest.raises(RuleFileError, match="OldestPendingTaskTooOld"):
        test_rules(tests)


def test_a_syntax_error_is_one_clear_line(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(RULES.read_text().replace("expr: workshop_oldest_pending_age_seconds > 300",
                                                "expr: workshop_oldest_pending_age_seconds >"))
    with pytest.raises(RuleFileError) as caught:
        check_rules(broken)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("broken.yml:"), message
    print(message)


def test_the_command_line_says_it_in_one_line(tmp_path):
    import subprocess
    import sys

    broken = tmp_path / "broken.yml"
    broken.write_text(RULES.read_text().replace("expr: workshop_oldest_pending_age_seconds > 300",
                                                "expr: workshop_oldest_pending_age_seconds >"))
    result = subprocess.run([sys.executable, "-m", "session9_operations", "rules", "check",
                             str(broken)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: broken.yml: 10:15:")
