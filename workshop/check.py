"""``python -m workshop check [N]``: run your own exercise tests and show your progress.

The tests run in a separate pytest process that writes a JUnit XML report; we read
the report, group results by exercise (test file) and part (test class
``TestPart1_...``, or the ``test_part1_...`` prefix of a module-level test function),
print a table, and show the message of the first failing part: for an untouched
stub that is the exercise's own "what to do" message.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .console import make_console
from .paths import REPO_ROOT, session_dirs


def hint_command(session: str, exercise: int | str = "") -> str:
    """How to ask for the next hint, both ways (make, and Python for machines without make)."""
    number = session.removeprefix("session").split("_", 1)[0]
    python = f"python -m workshop hint {number} {exercise}".rstrip()
    make = f"make hint SESSION={number}" + (f" EXERCISE={exercise}" if exercise != "" else "")
    return f"{make}   (or: {python})"


@dataclass
class PartResult:
    exercise: str
    part: str
    passed: int = 0
    failed: int = 0
    first_failure: str = ""
    first_failing_test: str = ""

    @property
    def done(self) -> bool:
        return self.failed == 0 and self.passed > 0


@dataclass
class SessionResult:
    session: str
    parts: list[PartResult] = field(default_factory=list)
    error: str = ""


_PART_FUNCTION = re.compile(r"test_part(\d+)_", re.IGNORECASE)


def _part_name(classname: str, testname: str = "") -> tuple[str, str]:
    """The exercise and the part a test belongs to.

    ('ex1_transitions', 'Part1_rules') from the class
    'session1_basics.exercises.test_ex1_transitions.TestPart1_rules'; ('ex1_x', 'Part1')
    from a module-level function 'test_part1_every_value_counts' in test_ex1_x.py (a test
    file may use functions: the number after ``test_part`` is their part, unnamed).
    """
    pieces = classname.split(".")
    exercise = next((p.removeprefix("test_") for p in pieces if p.startswith("test_ex")), pieces[-1])
    last = pieces[-1]
    if last.startswith("TestPart"):
        return exercise, last.removeprefix("Test")
    function = _PART_FUNCTION.match(testname)
    return exercise, f"Part{function.group(1)}" if function else "tests"


def run_session(session_dir: Path, exercise: int | None = None) -> SessionResult:
    """Run the session's exercise tests (only exercise ``exercise``'s file, if given)."""
    result = SessionResult(session_dir.name)
    exercises_dir = session_dir / "exercises"
    pattern = "test_ex*.py" if exercise is None else f"test_ex{exercise}_*.py"
    tests = sorted(exercises_dir.glob(pattern))
    if not tests:
        result.error = "no exercises yet" if exercise is None else f"no exercise {exercise}"
        return result
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", *map(str, tests), "-q", "-p", "no:cacheprovider",
             f"--junitxml={report}", "-o", "junit_family=xunit1"],
            cwd=REPO_ROOT, capture_output=True, text=True,
        )
        if not report.exists():
            result.error = (completed.stdout + completed.stderr).strip()[-1500:]
            return result
        tree = ET.parse(report)
    parts: dict[tuple[str, str], PartResult] = {}
    for case in tree.iter("testcase"):
        exercise, part = _part_name(case.get("classname", ""), case.get("name", ""))
        entry = parts.setdefault((exercise, part), PartResult(exercise, part))
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            if case.find("skipped") is None:
                entry.passed += 1
            continue
        entry.failed += 1
        if not entry.first_failure:
            entry.first_failure = (problem.get("message") or "").strip()
            test_class = case.get("classname", "").split(".")[-1]
            node = [case.get("file", ""), case.get("name", "")]
            if test_class.startswith("Test"):
                node.insert(1, test_class)
            entry.first_failing_test = "::".join(node)
    if not parts:
        # Collection failed (for example a syntax error in your file): show pytest's words.
        result.error = (completed.stdout + completed.stderr).strip()[-1500:]
    result.parts = list(parts.values())
    return result


def _number(session: str) -> str:
    """'1' for 'session1_basics'."""
    return session.removeprefix("session").split("_", 1)[0]


def select_sessions(which: str | None) -> list[Path]:
    sessions = session_dirs()
    if not which:
        return sessions
    chosen = [s for s in sessions if s.name.startswith(f"session{which}_") or s.name == which]
    if not chosen:
        names = ", ".join(s.name for s in sessions)
        raise SystemExit(f"No session {which!r}. Choose a number or one of: {names}")
    return chosen


def run_command_for(test_node: str) -> str:
    """The command that runs one failing test, safe to paste into a shell.

    Node ids hold characters a shell reads as syntax (``test_every_pair[pending->pending]``:
    ``>`` is a redirection), so the id is quoted.
    """
    return f"pytest {shlex.quote(test_node)} -x"


def run_check(which: str | None = None, console: Console | None = None) -> int:
    """Print the progress table and the next step.

    Returns 0 when every exercise passes, 1 while some remain to do, 2 when pytest
    could not even run a session's exercises (a syntax error in a file, say):
    ``python -m workshop check`` exits with that code, so a script or CI job can
    tell "all done" apart. ``make check`` exits 0 for 1 too, because exercises left
    to do are progress, not an error.
    """
    console = console or make_console()
    results = []
    for session_dir in select_sessions(which):
        with console.status(f"Running the exercise tests of {session_dir.name} ..."):
            results.append(run_session(session_dir))

    # Narrow enough for an 80-column terminal with the longest names (the session as its
    # number), and never wrapped or cut: a part name cut in two is hard to search for.
    table = Table(title="Your exercises")
    for column in ("#", "exercise", "part", "passed", "status"):
        table.add_column(column, no_wrap=True, overflow="ignore")
    next_step: PartResult | None = None
    broken: SessionResult | None = None
    for session in results:
        if session.error and not session.parts:
            table.add_row(_number(session.session), session.session, "-", "-",
                          f"[yellow]{session.error.splitlines()[0]}")
            if session.error != "no exercises yet":
                broken = broken or session
            continue
        for part in session.parts:
            status = "[green]done" if part.done else "[red]to do"
            table.add_row(_number(session.session), part.exercise, part.part,
                          f"{part.passed}/{part.passed + part.failed}", status)
            if not part.done and next_step is None:
                next_step = part
    console.print(table)
    done = sum(p.done for s in results for p in s.parts)
    total = sum(len(s.parts) for s in results)
    console.print(f"Progress: {done}/{total} parts done.")
    if broken is not None:
        console.print(f"\n[bold red]pytest could not run {broken.session}'s exercises:[/]")
        console.print(broken.error, markup=False)
        return 2
    if next_step is not None:
        console.print(f"\n[bold]Next:[/] {next_step.exercise}, {next_step.part}")
        console.print(next_step.first_failure or "(no message)", markup=False, soft_wrap=True)
        console.print(f"Run it alone: {run_command_for(next_step.first_failing_test)}",
                      markup=False, soft_wrap=True)
        number = next_step.exercise.removeprefix("ex").split("_", 1)[0]
        session = next(s.session for s in results if next_step in s.parts)
        console.print(f"Stuck? Hints, one level at a time: {hint_command(session, number)}",
                      markup=False, soft_wrap=True)
        return 1
    if total:
        console.print("\n[bold green]All exercises pass. Well done.[/]")
    return 0
