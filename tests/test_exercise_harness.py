"""Every exercise's tests really check the learner (DESIGN.md section 6).

For each ``sessionN_x/exercises/test_exK_name.py`` this runs the same tests, in a
fresh pytest process, against three kinds of file:

- the reference solution:   every test must pass;
- the untouched stub:       some test must fail (an exercise that passes untouched checks nothing);
- every mutant (a plausible wrong solution): some test must fail.

pytest's exit code 1 means "tests ran and some failed"; anything else (2: interrupted,
4: usage error, 5: no tests) would mean the file could not even be tested, which is
a defect in the exercise, not a proof that the tests catch mistakes.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

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


@pytest.mark.parametrize(("exercise", "mutant"), MUTANTS,
                         ids=[f"{e.label}:{m.stem.split('__', 1)[1]}" for e, m in MUTANTS])
def test_mutant_fails(exercise: Exercise, mutant):
    result = run_exercise_tests(exercise, mutant)
    assert result.returncode == TESTS_FAILED, (
        f"{exercise.label}: mutant {mutant.name} ({ast.get_docstring(ast.parse(mutant.read_text()))}) "
        f"should fail the tests (exit code 1), got exit code {result.returncode}\n{tail(result)}")
