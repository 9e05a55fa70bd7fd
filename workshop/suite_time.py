"""The suite's time budget, and where a run spent its time (a pytest plugin).

``make test`` must stay a few minutes' wait, sessions added later included: a learner
should know the repository works before their coffee is cold. Each top-level folder has
a budget in seconds of test time (setup + call + teardown of its tests) on a quiet
2-core machine; the whole suite has TOTAL_BUDGET. At the end of a run this prints one
line per folder that ran: its time, its budget, and "over" where it is over.

It is a report, never a failure: a loaded machine runs everything slower, and a test
must not fail because a neighbour was busy. A folder over its budget is a reason to
make its tests cheaper (a fake clock instead of a real wait, SQLite where the database
does not matter, a session-scoped server, a smaller image), or to mark its slowest
tests ``slow`` so the learner's loop (``pytest -m "not slow"``) stays short.

A new session gets a line in BUDGET_SECONDS; one that is missing is shown with
DEFAULT_BUDGET.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

TOTAL_BUDGET = 300
DEFAULT_BUDGET = 25
BUDGET_SECONDS = {
    "session1_basics": 5,
    "session2_pipeline": 10,
    "session3_threads": 10,
    "session4_redis": 20,
    "session5_recovery": 45,
    "session6_api": 70,
    "session7_engines": 45,
    "session8_workflows": 25,
    "session9_operations": 25,
    # Across sessions: every exercise against its solution, stub and mutants; chaos and
    # fault suites; notebooks; the commands the READMEs quote.
    "tests": 70,
}

_spent: dict[str, float] = defaultdict(float)


def folder_of(nodeid: str) -> str:
    """The top-level folder of a test (``session5_recovery/tests/x.py::t`` -> ``session5_recovery``)."""
    path = nodeid.split("::", 1)[0]
    return path.split("/", 1)[0] if "/" in path else "."


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _spent[folder_of(report.nodeid)] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _spent:
        return
    terminalreporter.section(f"test time by folder (budget: {TOTAL_BUDGET} s in all, quiet 2-core machine)",
                             sep="-")
    for folder, seconds in sorted(_spent.items()):
        budget = BUDGET_SECONDS.get(folder, DEFAULT_BUDGET)
        over = "  over" if seconds > budget else ""
        terminalreporter.write_line(f"{folder:<22}{seconds:7.1f} s   budget {budget:4d} s{over}")
    total = sum(_spent.values())
    terminalreporter.write_line(f"{'all':<22}{total:7.1f} s   budget {TOTAL_BUDGET:4d} s"
                                f"{'  over' if total > TOTAL_BUDGET else ''}")
