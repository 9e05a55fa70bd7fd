"""Every exercise's tests really check the learner (ARCHITECTURE.md, "Exercises").

For each ``sessionN_x/exercises/test_exK_name.py`` this runs the same tests against
three kinds of file:

- the reference solution:   every test must pass;
- the untouched stub:       some test must fail (an exercise that passes untouched checks nothing);
- every mutant (a plausible wrong solution): the tests its docstring names under
  "Rejected by:" must fail. A mutant rejected by some other test (an import error,
  a test that fails for an unrelated reason) would prove nothing about the test
  meant to catch that mistake.

All the versions of one exercise run in one child process, one pytest run after the
other (``workshop/exercise_runner.py``): a fresh process per version spent most of its
time importing pytest plugins. pytest's exit code 1 means "tests ran and some failed";
anything else (2: interrupted, 4: usage error, 5: no tests) would mean the file could
not even be tested, which is a defect in the exercise, not a proof that the tests
catch mistakes.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from workshop.exercise_runner import SOLUTIONS, STUB, VariantRun, reported_name, run_variants
from workshop.exercises import Exercise, discover_exercises

EXERCISES = discover_exercises()
TESTS_FAILED = 1
# The first test of an exercise waits for all its versions to run (a few seconds; a mutant
# that hangs costs its tests' 30 s limit each), so these tests get more than the suite's 120 s.
# Slow: about a minute for all of them, outside the learner's `pytest -m "not slow"` loop.
ALL_VERSIONS_TIMEOUT = pytest.mark.timeout(600)


@functools.cache
def runs_of(exercise: Exercise) -> dict[str, VariantRun]:
    """Every version of ``exercise`` under its tests: run once, shared by the tests below."""
    return run_variants(exercise, [SOLUTIONS, STUB, *map(str, exercise.mutants)])


def tail(run: VariantRun) -> str:
    return f"failed: {run.failed}\n{run.failure_text[-3000:]}"


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


@pytest.mark.slow
@ALL_VERSIONS_TIMEOUT
@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.label)
def test_solution_passes(exercise: Exercise):
    run = runs_of(exercise)[SOLUTIONS]
    assert run.exit_code == 0, f"{exercise.label}: the solution fails its tests\n{tail(run)}"
    assert run.passed, f"{exercise.label}: no test ran against the solution"


@pytest.mark.slow
@ALL_VERSIONS_TIMEOUT
@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.label)
def test_untouched_stub_fails(exercise: Exercise):
    run = runs_of(exercise)[STUB]
    assert run.exit_code == TESTS_FAILED, (
        f"{exercise.label}: the untouched stub should fail its tests (exit code 1), "
        f"got exit code {run.exit_code}\n{tail(run)}")


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


@pytest.mark.slow
@ALL_VERSIONS_TIMEOUT
@pytest.mark.parametrize(("exercise", "mutant"), MUTANTS,
                         ids=[f"{e.label}:{m.stem.split('__', 1)[1]}" for e, m in MUTANTS])
def test_mutant_fails_the_tests_it_names(exercise: Exercise, mutant):
    mistake = (ast.get_docstring(ast.parse(mutant.read_text())) or "").splitlines()[0]
    named = rejected_by(mutant)
    assert named, (f"{mutant.name} must name the test(s) that reject it in its docstring:\n"
                   f"Rejected by:\n    {exercise.test.name}::TestPartN_...::test_...")
    run = runs_of(exercise)[str(mutant)]
    assert run.exit_code == TESTS_FAILED, (
        f"{exercise.label}: mutant {mutant.name} ({mistake}) should fail the tests "
        f"(exit code 1), got exit code {run.exit_code}\n{tail(run)}")
    missed = [name for name in named if name not in run.failed]
    assert not missed, (
        f"{exercise.label}: mutant {mutant.name} ({mistake}) passed {missed}, which its "
        f"docstring says reject it; the tests that did fail: {run.failed}\n{tail(run)}")


def test_rejected_by_reads_a_mutant_docstring(tmp_path):
    mutant = tmp_path / "ex1_demo__mistake.py"
    mutant.write_text('"""Mistake: x.\n\nRejected by:\n    test_ex1_demo.py::TestPart1_A::test_a\n'
                      '    test_ex1_demo.py::TestPart2_B::test_b\n\nMore words.\n"""\n')
    assert rejected_by(mutant) == ["test_ex1_demo.py::TestPart1_A::test_a",
                                   "test_ex1_demo.py::TestPart2_B::test_b"]


def test_reported_name_is_how_a_mutant_names_a_test():
    assert reported_name("session1_basics/exercises/test_ex1_a.py::TestPart1_B::test_c[x-1]") == (
        "test_ex1_a.py::TestPart1_B::test_c")
    assert reported_name("session6_api/exercises/test_ex2_b.py::test_part1_d[sqlite]") == (
        "test_ex2_b.py::test_part1_d")


@pytest.mark.slow
def test_versions_run_in_one_process_do_not_leak_into_each_other():
    """The same outcomes in the opposite order: no version sees what the one before it loaded.

    Session 2's new-filter exercise is the one to try: each of its versions registers its
    filters in the library's registry, which refuses a second class under a taken name.
    """
    exercise = next(e for e in EXERCISES if e.label == "session2_pipeline/ex1_new_filter")
    variants = [SOLUTIONS, STUB, *map(str, exercise.mutants)]
    backwards = run_variants(exercise, variants[::-1])
    forwards = runs_of(exercise)
    assert {v: (run.exit_code, run.failed) for v, run in backwards.items() if v != STUB} == {
        v: (run.exit_code, run.failed) for v, run in forwards.items() if v != STUB}
    assert backwards[STUB].exit_code == forwards[STUB].exit_code == TESTS_FAILED
