"""Run one exercise's tests against several versions of it, in one process.

The suite proves that each exercise's tests really check the learner
(``tests/test_exercise_harness.py``): the solution passes, the untouched stub fails,
every mutant fails the tests it names. That is about six runs of the same test file.
A fresh ``python -m pytest`` per run costs a second or two before the first test
(every installed pytest plugin is imported), so this module runs them all in one
child process instead::

    python -m workshop.exercise_runner REPORT.json TEST_FILE VARIANT...

where each VARIANT is ``solutions``, ``stub`` or the path of a mutant. Between runs
it forgets every module loaded from the repository (``sys.modules``): the test module,
the version it checked, and the session libraries whose state a version may have
changed, so each run imports them afresh, as a fresh process would. It runs pytest
with plugin autoloading off (LEAN_PYTEST_ENV). ``run_variants`` is the way in from Python.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .exercises import FILE_ENV, SOURCE_ENV, Exercise, exercise_file_for
from .paths import REPO_ROOT

SOLUTIONS = "solutions"
STUB = "stub"
# A pytest with only the plugin the workshop's tests use (their time limits): importing
# every installed plugin (schemathesis, hypothesis, anyio...) costs a child pytest process
# seconds before its first test. For pytest processes the suite starts itself.
LEAN_PYTEST_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTEST_ADDOPTS": "-p pytest_timeout"}
# Stub and mutants may leave a thread blocked on a Condition or a socket behind them: its
# "unraisable exception" warning is a symptom of the mistake, not a defect of the test file.
# The solution runs with the suite's own rule (such a warning is an error).
TOLERATE_UNRAISABLE = ["-W", "ignore::pytest.PytestUnraisableExceptionWarning"]
MAX_FAILURE_TEXT = 3000


@dataclass
class VariantRun:
    """What one version of an exercise did under its tests."""

    exit_code: int
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "test_file.py::TestClass::test_name"
    failure_text: str = ""  # the first failures' tracebacks, for the assertion message


def reported_name(nodeid: str) -> str:
    """``test_file.py::TestClass::test_name`` for a node id, without parameter ids.

    That is how a mutant's docstring names the tests that reject it.
    """
    parts = nodeid.split("::")
    name = [Path(parts[0]).name]
    classes = [part for part in parts[1:-1] if part.startswith("Test")]
    if classes:
        name.append(classes[-1])
    name.append(parts[-1].split("[")[0])
    return "::".join(name)


class _Recorder:
    """A pytest plugin that keeps each test's outcome (a failed setup or teardown counts)."""

    def __init__(self) -> None:
        self.run = VariantRun(exit_code=-1)
        self._failed: set[str] = set()
        self._seen: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = reported_name(report.nodeid)
        self._seen.add(name)
        if report.failed:
            self._failed.add(name)
            if len(self.run.failure_text) < MAX_FAILURE_TEXT:
                self.run.failure_text += f"\n--- {report.nodeid} ({report.when})\n{report.longreprtext[-1500:]}"

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and len(self.run.failure_text) < MAX_FAILURE_TEXT:
            self.run.failure_text += f"\n--- collecting {report.nodeid}\n{report.longreprtext[-1500:]}"

    def finish(self, exit_code: int) -> VariantRun:
        self.run.exit_code = int(exit_code)
        self.run.failed = sorted(self._failed)
        self.run.passed = sorted(self._seen - self._failed)
        return self.run


def _from_the_repository(module: object) -> bool:
    """Was ``module`` loaded from this repository (not from the standard library or a venv)?"""
    path = getattr(module, "__file__", None)
    if not path:
        return False
    resolved = Path(path).resolve()
    return resolved.is_relative_to(REPO_ROOT) and "site-packages" not in resolved.parts


def _forget() -> None:
    """Drop every module loaded from the repository, so the next run imports them afresh.

    Not only the test module and the exercise version: a library module keeps state that a
    version changes (a version registers its filters in session 2's registry, under its
    own module's name), and the next version must not find it there. Installed packages
    stay loaded: they are most of the import time, and the exercises do not change them.
    """
    for name, module in list(sys.modules.items()):
        if name != "__main__" and (name.startswith("_exercise_") or _from_the_repository(module)):
            del sys.modules[name]


def run_one(test_file: Path, variant: str) -> VariantRun:
    """Run ``test_file`` against one version of its exercise, in this process."""
    os.environ.pop(FILE_ENV, None)
    os.environ.pop(SOURCE_ENV, None)
    args = [str(test_file), "-q", "--no-header", "-p", "no:cacheprovider"]
    if variant == SOLUTIONS:
        os.environ[SOURCE_ENV] = SOLUTIONS
    elif variant == STUB:
        # The learner's own file, next to the test: the default (-x: one failure proves it).
        args += ["-x", *TOLERATE_UNRAISABLE]
    else:
        os.environ[FILE_ENV] = variant
        args += TOLERATE_UNRAISABLE
    _forget()
    recorder = _Recorder()
    exit_code = pytest.main(args, plugins=[recorder])
    return recorder.finish(exit_code)


def run_variants(exercise: Exercise, variants: list[str], timeout: float = 900) -> dict[str, VariantRun]:
    """Run ``exercise``'s tests against each variant in one child process.

    ``variants``: ``"solutions"``, ``"stub"``, or paths of mutants. Returns one
    ``VariantRun`` per variant; a child that died or hung raises ``RuntimeError``
    with its output.
    """
    env = {k: v for k, v in os.environ.items() if k not in (FILE_ENV, SOURCE_ENV)}
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        result = subprocess.run(
            [sys.executable, "-m", "workshop.exercise_runner", str(report), str(exercise.test), *variants],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
        )
        if not report.exists():
            raise RuntimeError(f"{exercise.label}: the exercise runner exited with {result.returncode} "
                               f"without a report\n{(result.stdout + result.stderr)[-3000:]}")
        runs = json.loads(report.read_text())
    return {variant: VariantRun(**run) for variant, run in runs.items()}


def main(argv: list[str]) -> None:
    report, test_file, *variants = argv
    os.environ.update(LEAN_PYTEST_ENV)
    test_path = Path(test_file).resolve()
    runs = {}
    for variant in variants:
        if variant not in (SOLUTIONS, STUB):
            # Fail before running anything if the path is not a version of this exercise.
            os.environ[FILE_ENV] = variant
            exercise_file_for(test_path)
        runs[variant] = run_one(test_path, variant).__dict__
    Path(report).write_text(json.dumps(runs))
    sys.stdout.flush()
    sys.stderr.flush()
    # A mutant may leave a non-daemon thread blocked forever (that is its mistake):
    # the report is written, so leave without waiting for it.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
