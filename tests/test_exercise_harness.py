"""Every exercise's tests really check the learner (ARCHITECTURE.md, "Exercises").

For each ``sessionN_x/exercises/test_exK_name.py`` this runs the same tests, in a
fresh pytest process, against three kinds of file:

- the reference solution:   every test must pass;
- the untouched stub:       some test must fail (an exercise that passes untouched checks nothing);
- every mutant (a plausible wrong solution): the tests its docstring names under
  "Rejected by:" must fail. A mutant rejected by some other test (an import error,
  a test that fails for an unrelated reason) would prove nothing about the test
  meant to catch that mistake.

pytest's exit code 1 means "tests ran and some failed"; anything else (2: interrupted,
4: usage error, 5: no tests) would mean the file could not even be tested, which is
a defect in the exercise, not a proof that the tests catch mistakes.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from workshop.exercises import FILE_ENV, SOURCE_ENV, Exercise, discover_exercises
from workshop.paths import REPO_ROOT

EXERCISES = discover_exercises()
TESTS_FAILED = 1


def run_exercise_tests(exercise: Exercise, target) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (FILE_ENV, SOURCE_ENV)}
    env[FILE_ENV] = str(target)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(exercise.test), "-q", "-x", "--no-header",
         "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnraisableExceptionWarning"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180,
    )


def tail(result: subprocess.CompletedProcess) -> str:
    return (result.stdout + result.stderr)[-3000:]


def test_there_are_exercises():
    assert EXERCISES, "no exercises found under session*/exercises/test_ex*.py"


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.label)
def test_exercise_is_complete(exercise: Exercise):
    assert exercise.stub.exists(), f"{exercise.label}: stub {exercise.stub} is missing"
    assert exercise.solution.exists(), f"{exercise.label}: solution {exercise.solution} is missing"
    assert exercise.mutants, (f"{exercise.label}: no mutant in solutions/{exercise.session}/mutants/; "
                              "add at least one plausible wrong solution")
    stub_text = exercise.stub.read_text()
    assert "# TODO" in stub_text and "NotImplementedError" in stub_text, (
        f"{exercise.label}: the stub should mark each part with '# TODO' and raise NotImplementedError")
    solution_text = exercise.solution.read_text()
    for mutant in exercise.mutants:
        text = mutant.read_text()
        assert text != solution_text, f"{mutant.name} is identical to the solution"
        assert ast.get_docstring(ast.parse(text)), f"{mutant.name} needs a docstring naming its mistake"


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.label)
def test_solution_passes(exercise: Exercise):
    env = {k: v for k, v in os.environ.items() if k != FILE_ENV}
    env[SOURCE_ENV] = "solutions"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(exercise.test), "-q", "--no-header", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, f"{exercise.label}: the solution fails its tests\n{tail(result)}"


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.label)
def test_untouched_stub_fails(exercise: Exercise):
    result = run_exercise_tests(exercise, exercise.stub)
    assert result.returncode == TESTS_FAILED, (
        f"{exercise.label}: the untouched stub should fail its tests (exit code 1), "
        f"got exit code {result.returncode}\n{tail(result)}")


MUTANTS = [(exercise, mutant) for exercise in EXERCISES for mutant in exercise.mutants]


def rejected_by(mutant: Path) -> list[str]:
    """The tests a mutant's docstring names under "Rejected by:", one ``file::Class::test`` a line."""
    lines = (ast.get_docstring(ast.parse(mutant.read_text())) or "").splitlines()
    names: list[str] = []
    for number, line in enumerate(lines):
        if line.startswith("Rejected by:"):
            rest = [line.removeprefix("Rejected by:")]
            rest += [follow for follow in lines[number + 1:number + 40]]
            for item in rest:
                if "::" not in item:
                    if names:
                        break
                    continue
                names.append(item.strip())
            break
    return names


def failing_tests(exercise: Exercise, target: Path) -> tuple[int, set[str], str]:
    """Run every test of ``exercise`` against ``target`` (no -x); return the failing tests.

    Names are ``test_file.py::TestClass::test_name`` without parameter ids, the way a
    mutant's docstring names them.
    """
    env = {k: v for k, v in os.environ.items() if k not in (FILE_ENV, SOURCE_ENV)}
    env[FILE_ENV] = str(target)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        result = subprocess.run(
            [sys.executable, "-m", "pytest", str(exercise.test), "-q", "--no-header",
             "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnraisableExceptionWarning",
             f"--junitxml={report}", "-o", "junit_family=xunit1"],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        failed: set[str] = set()
        if report.exists():
            for case in ET.parse(report).iter("testcase"):
                if case.find("failure") is None and case.find("error") is None:
                    continue
                test_class = case.get("classname", "").split(".")[-1]
                name = case.get("name", "").split("[")[0]
                parts = [exercise.test.name, name]
                if test_class.startswith("Test"):
                    parts.insert(1, test_class)
                failed.add("::".join(parts))
    return result.returncode, failed, tail(result)


@pytest.mark.parametrize(("exercise", "mutant"), MUTANTS,
                         ids=[f"{e.label}:{m.stem.split('__', 1)[1]}" for e, m in MUTANTS])
def test_mutant_fails_the_tests_it_names(exercise: Exercise, mutant):
    mistake = (ast.get_docstring(ast.parse(mutant.read_text())) or "").splitlines()[0]
    named = rejected_by(mutant)
    assert named, (f"{mutant.name} must name the test(s) that reject it in its docstring:\n"
                   f"Rejected by:\n    {exercise.test.name}::TestPartN_...::test_...")
    code, failed, output = failing_tests(exercise, mutant)
    assert code == TESTS_FAILED, (
        f"{exercise.label}: mutant {mutant.name} ({mistake}) should fail the tests "
        f"(exit code 1), got exit code {code}\n{output}")
    missed = [name for name in named if name not in failed]
    assert not missed, (
        f"{exercise.label}: mutant {mutant.name} ({mistake}) passed {missed}, which its "
        f"docstring says reject it; the tests that did fail: {sorted(failed)}\n{output}")


def test_rejected_by_reads_a_mutant_docstring(tmp_path):
    mutant = tmp_path / "ex1_demo__mistake.py"
    mutant.write_text('"""Mistake: x.\n\nRejected by:\n    test_ex1_demo.py::TestPart1_A::test_a\n'
                      '    test_ex1_demo.py::TestPart2_B::test_b\n\nMore words.\n"""\n')
    assert rejected_by(mutant) == ["test_ex1_demo.py::TestPart1_A::test_a",
                                   "test_ex1_demo.py::TestPart2_B::test_b"]
