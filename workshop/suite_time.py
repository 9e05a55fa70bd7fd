"""The suite's time budget, and where a run spent its time (a pytest plugin).

``make test`` must stay a few minutes' wait, sessions added later included: a learner
should know the repository works before their coffee is cold. Each top-level folder has
a budget in seconds of test time (setup + call + teardown of its tests, summed) on a
quiet 2-core machine, as four pytest workers share it (``make test``: a test's time
includes waiting for the cores its neighbours use). The sum of the budgets,
TOTAL_BUDGET, is what they get through in about four minutes, leaving one for
collecting and starting them. At the end of a run this prints one line per folder that ran: its time,
its budget, and "over" where it is over. A test of ``tests/`` whose parameter names a
session (``test_solution_passes[session6_api/ex2_outbox_relay]``) counts for that
session: checking a session's exercises is part of what the session costs.

It is a report, never a failure: a loaded machine runs everything slower, and a test
must not fail because a neighbour was busy. A folder over its budget is a reason to
make its tests cheaper (an event or a fake clock instead of a real wait, SQLite where
the database does not matter, a module-scoped server, a gate instead of a big input),
or to mark its slowest tests ``slow`` so the learner's loop (``pytest -m "not slow"``)
stays short.

A new session gets a line in BUDGET_SECONDS; one that is missing is shown with
DEFAULT_BUDGET.

It also orders the test files for ``make test``'s workers (``--dist loadfile
--no-loadscope-reorder``): pytest-xdist hands out whole files in the order it gets
them, and its own order (most tests first) sent the files of a few long tests (the
notebooks, the browser) out last, so the run ended with one worker busy and the
others idle. LONGEST_FILES go first, longest first; the rest follow, most tests
first. A file that grows past the last of them belongs in the list.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

DEFAULT_BUDGET = 45
BUDGET_SECONDS = {
    "session1_basics": 20,
    "session2_pipeline": 25,
    "session3_threads": 25,
    "session4_redis": 25,
    "session5_recovery": 85,
    "session6_api": 300,
    "session7_engines": 120,
    "session8_workflows": DEFAULT_BUDGET,
    "session9_operations": 55,
    # Across sessions: chaos and fault suites, notebooks, the commands the READMEs quote,
    # the learner tooling.
    "tests": 260,
}
TOTAL_BUDGET = sum(BUDGET_SECONDS.values())
# The files that took longest (the time report with --durations=0), longest first.
LONGEST_FILES = (
    "tests/test_exercise_harness.py",
    "tests/test_notebooks.py",
    "session6_api/tests/test_dashboard_browser.py",
    "session7_engines/tests/test_s7_chaos.py",
    "tests/test_workshop_tools.py",
    "tests/test_readme_commands.py",
    "session6_api/tests/test_s6_live.py",
    "session7_engines/tests/test_s7_engines.py",
    "tests/test_chaos.py",
    "session6_api/tests/test_s6_streams.py",
    "session8_workflows/tests/test_s8_faults.py",
    "session5_recovery/tests/test_s5_recovery.py",
    "session7_engines/tests/test_s7_rabbitmq.py",
)
SESSION_IN_PARAMETER = re.compile(r"\[(session\d+_\w+?)[/:\]-]")

_spent: dict[str, float] = defaultdict(float)


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def folder_of(nodeid: str) -> str:
    """Whose time a test is: its top-level folder, or the session its parameter names.

    ``session5_recovery/tests/x.py::t`` -> ``session5_recovery``;
    ``tests/test_exercise_harness.py::test_solution_passes[session6_api/ex1_idempotency]``
    -> ``session6_api``.
    """
    named = SESSION_IN_PARAMETER.search(nodeid)
    if named:
        return named.group(1)
    path = file_of(nodeid)
    return path.split("/", 1)[0] if "/" in path else "."


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """LONGEST_FILES first, in their order; then the other files, most tests first.

    A stable sort: the tests of one file keep their order.
    """
    per_file: dict[str, int] = defaultdict(int)
    for item in items:
        per_file[file_of(item.nodeid)] += 1

    def rank(item: pytest.Item) -> tuple[int, int]:
        path = file_of(item.nodeid)
        if path in LONGEST_FILES:
            return LONGEST_FILES.index(path), 0
        return len(LONGEST_FILES), -per_file[path]

    items.sort(key=rank)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _spent[folder_of(report.nodeid)] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _spent:
        return
    terminalreporter.section(f"test time by folder (budgets for a quiet 2-core machine, "
                             f"{TOTAL_BUDGET} s in all)", sep="-")
    for folder, seconds in sorted(_spent.items()):
        budget = BUDGET_SECONDS.get(folder, DEFAULT_BUDGET)
        over = "  over" if seconds > budget else ""
        terminalreporter.write_line(f"{folder:<22}{seconds:7.1f} s   budget {budget:4d} s{over}")
    total = sum(_spent.values())
    terminalreporter.write_line(f"{'all':<22}{total:7.1f} s   budget {TOTAL_BUDGET:4d} s"
                                f"{'  over' if total > TOTAL_BUDGET else ''}")
