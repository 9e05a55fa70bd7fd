"""Hints in levels (``python -m workshop hint``) and how ``check`` groups tests into parts."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys

import pytest
from rich.console import Console

from workshop import check, hints
from workshop.check import PartResult
from workshop.exercises import discover_exercises
from workshop.paths import REPO_ROOT

SAMPLE = """# Hints

Some words before the first part.

## Exercise 1, part 1

### Nudge
Look at the arrows.

### Idea
A table.

### Shape
```python
rules = {...}
```

## Exercise 1, part 2

### Nudge
Part 1 did it.

## Something else

### Nudge
Not a hint of any part.
"""


def quiet_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=100, color_system=None), buffer


def test_parse_hints_reads_each_part_and_its_levels_in_order():
    parsed = hints.parse_hints(SAMPLE)
    assert set(parsed) == {(1, 1), (1, 2)}, "a section that is not a part must not be read"
    assert [title for title, _ in parsed[(1, 1)]] == ["Nudge", "Idea", "Shape"]
    assert parsed[(1, 1)][0][1] == "Look at the arrows."
    assert parsed[(1, 1)][2][1].startswith("```python") and "rules = {...}" in parsed[(1, 1)][2][1]
    assert parsed[(1, 2)] == [("Nudge", "Part 1 did it.")]


def test_each_call_shows_the_next_level_then_keeps_the_last(tmp_path):
    levels = hints.parse_hints(SAMPLE)[(1, 1)]
    seen = tmp_path / "seen.json"
    shown = [hints.next_hint(levels, "s/ex1/1", seen) for _ in range(4)]
    assert [h.title for h in shown] == ["Nudge", "Idea", "Shape", "Shape"]
    assert [h.level for h in shown] == [1, 2, 3, 3] and {h.of for h in shown} == {3}
    # Another part starts again at the nudge: levels are counted per part.
    assert hints.next_hint(levels, "s/ex2/1", seen).title == "Nudge"


def test_the_first_unfinished_part_is_chosen_in_order_and_by_exercise():
    parts = [PartResult("ex1_a", "Part1_x", passed=3), PartResult("ex1_a", "Part2_y", failed=1),
             PartResult("ex2_b", "Part1_z", failed=2)]
    assert hints.first_unfinished(parts) is parts[1]
    assert hints.first_unfinished(parts, exercise=2) is parts[2]
    assert hints.first_unfinished(parts[:1]) is None
    # A part whose tests were all skipped is not done either.
    assert hints.first_unfinished([PartResult("ex1_a", "Part1_x")]) is not None


@pytest.mark.parametrize(("part", "number"), [("Part2_CanTransition", 2), ("Part3", 3), ("tests", 0)])
def test_part_numbers(part, number):
    assert hints.part_number(part) == number


def test_hint_on_an_untouched_stub_gives_the_nudge_of_its_first_part(tmp_path):
    """Session 1, exercise 2, as a fresh clone has it: part 1 is the first unfinished."""
    seen = tmp_path / "seen.json"
    console, buffer = quiet_console()
    assert hints.run_hint("1", "2", console=console, seen_file=seen) == 0
    first = buffer.getvalue()
    expected = hints.hints_for(REPO_ROOT / "session1_basics")[(2, 1)]
    assert "exercise 2 (ex2_blocking_get), part 1: hint 1 of 3, nudge" in first, first
    assert expected[0][1].splitlines()[0] in first
    assert "make hint SESSION=1 EXERCISE=2" in first and "python -m workshop hint 1 2" in first

    console, buffer = quiet_console()
    hints.run_hint("1", "2", console=console, seen_file=seen)
    assert "hint 2 of 3, idea" in buffer.getvalue()
    assert expected[1][1].splitlines()[0] in buffer.getvalue()


def test_every_part_of_every_exercise_has_a_nudge_an_idea_and_a_shape():
    """Parts come from the tests (classes TestPartN_ or functions test_partN_)."""
    missing = []
    for exercise in discover_exercises():
        text = exercise.test.read_text()
        parts = {int(n) for n in re.findall(r"^(?:class Test|def test_)[Pp]art(\d+)", text, re.M)}
        number = hints.exercise_number(exercise.name)
        written = hints.hints_for(exercise.stub.parent.parent)
        for part in sorted(parts):
            levels = [title for title, text in written.get((number, part), []) if text]
            if levels != list(hints.LEVELS):
                missing.append(f"{exercise.label} part {part}: {levels}")
    assert not missing, "HINTS.md must give Nudge, Idea and Shape for:\n" + "\n".join(missing)


def test_check_groups_module_level_test_functions_by_part():
    name = "session6_api.exercises.test_ex1_idempotency"
    assert check._part_name(name, "test_part2_without_a_key_every_call_is_a_new_task") == (
        "ex1_idempotency", "Part2")
    assert check._part_name(name + ".TestPart1_Rules", "test_x") == ("ex1_idempotency", "Part1_Rules")
    assert check._part_name(name, "test_something_else") == ("ex1_idempotency", "tests")


def test_check_points_at_the_hint_command():
    result = subprocess.run([sys.executable, "-m", "workshop", "check", "1"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert "Stuck? Hints, one level at a time: make hint SESSION=1 EXERCISE=1" in result.stdout, (
        result.stdout + result.stderr)


def test_the_hint_command_is_on_the_command_line_and_in_make_help():
    result = subprocess.run([sys.executable, "-m", "workshop", "--help"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert "hint" in result.stdout
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "\nhint: " in makefile and "make hint" in makefile


def test_hint_for_an_exercise_that_does_not_exist_says_so(tmp_path):
    console, buffer = quiet_console()
    assert hints.run_hint("1", "9", console=console, seen_file=tmp_path / "seen.json") == 2
    assert "session1_basics has no exercise 9." in buffer.getvalue()


def _not_implemented_messages(stub) -> list[str]:
    """The messages of every ``raise NotImplementedError("...")`` in a stub."""
    messages = []
    for node in ast.walk(ast.parse(stub.read_text())):
        if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                and getattr(node.exc.func, "id", "") == "NotImplementedError" and node.exc.args):
            messages.append(ast.literal_eval(node.exc.args[0]))
    return messages


def test_every_stub_message_names_its_part_and_its_own_hint_command():
    """An untouched stub's error is the first thing ``make check`` shows: it says what to
    do and how to ask for a hint for that very exercise (there is no hint in the README)."""
    wrong = []
    for exercise in discover_exercises():
        session = exercise.session.removeprefix("session").split("_", 1)[0]
        number = hints.exercise_number(exercise.name)
        command = f"(hint: make hint SESSION={session} EXERCISE={number})"
        messages = _not_implemented_messages(exercise.stub)
        if not messages:
            wrong.append(f"{exercise.label}: no NotImplementedError message")
        for message in messages:
            if not re.match(rf"Exercise {number}, part \d+: ", message) or not message.endswith(command):
                wrong.append(f"{exercise.label}: {message!r}")
    assert not wrong, "each message starts 'Exercise K, part P: ' and ends with its hint command:\n" + (
        "\n".join(wrong))
