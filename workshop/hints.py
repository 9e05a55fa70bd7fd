"""``python -m workshop hint [N] [K]``: the next hint for your first unfinished part.

Hints come in levels, one per call, for the first part whose tests do not all pass
yet: a **nudge** (where to look), then the **idea** (the rule the code must keep), then
the **shape** of the code (its outline, still with blanks to fill). Ask again for the
next level; the last one stays on screen each time after that.

Where hints live: each session's ``exercises/HINTS.md``, one section per part::

    ## Exercise 1, part 2

    ### Nudge
    ...
    ### Idea
    ...
    ### Shape
    ...

Which levels you have seen is kept in ``output/hints_seen.json`` (under ``output/``,
like every other file a learner's run writes); delete it to start the levels again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from .check import PartResult, hint_command, run_session, select_sessions
from .console import make_console
from .paths import OUTPUT_DIR

HINTS_FILE = "HINTS.md"
LEVELS = ("Nudge", "Idea", "Shape")
SEEN_FILE = OUTPUT_DIR / "hints_seen.json"

_PART_HEADING = re.compile(r"^## Exercise (\d+), part (\d+)\s*$")
_LEVEL_HEADING = re.compile(r"^### (\w+)\s*$")
_PART_NUMBER = re.compile(r"Part(\d+)")


@dataclass(frozen=True)
class Hint:
    level: int  # 1-based: 1 is the nudge
    of: int  # how many levels this part has
    title: str  # "Nudge", "Idea" or "Shape"
    text: str


def parse_hints(text: str) -> dict[tuple[int, int], list[tuple[str, str]]]:
    """{(exercise, part): [(level title, text), ...]} from a HINTS.md file, in file order."""
    hints: dict[tuple[int, int], list[tuple[str, str]]] = {}
    current: list[tuple[str, list[str]]] | None = None
    for line in text.splitlines():
        part = _PART_HEADING.match(line)
        if part:
            current = []
            hints[(int(part.group(1)), int(part.group(2)))] = current  # type: ignore[assignment]
            continue
        if line.startswith("## "):  # any other section ends the part
            current = None
            continue
        level = _LEVEL_HEADING.match(line)
        if level and current is not None:
            current.append((level.group(1), []))
        elif current:
            current[-1][1].append(line)
    return {key: [(title, "\n".join(lines).strip()) for title, lines in levels]  # type: ignore[misc]
            for key, levels in hints.items()}


def hints_for(session_dir: Path) -> dict[tuple[int, int], list[tuple[str, str]]]:
    path = session_dir / "exercises" / HINTS_FILE
    return parse_hints(path.read_text(encoding="utf-8")) if path.exists() else {}


def exercise_number(exercise: str) -> int:
    """1 for 'ex1_transitions'."""
    return int(exercise.removeprefix("ex").split("_", 1)[0])


def part_number(part: str) -> int:
    """2 for 'Part2_CanTransition' (0 if the tests are not grouped in parts)."""
    found = _PART_NUMBER.match(part)
    return int(found.group(1)) if found else 0


def first_unfinished(parts: list[PartResult], exercise: int | None = None) -> PartResult | None:
    """The first part (in test-file order) whose tests do not all pass, in ``exercise`` if given."""
    for part in parts:
        if exercise is not None and exercise_number(part.exercise) != exercise:
            continue
        if not part.done:
            return part
    return None


def _read_seen(seen_file: Path) -> dict[str, int]:
    try:
        return json.loads(seen_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def next_hint(levels: list[tuple[str, str]], key: str, seen_file: Path = SEEN_FILE) -> Hint:
    """The level after the last one shown for ``key`` (the last level again once all are seen)."""
    seen = _read_seen(seen_file)
    level = min(seen.get(key, 0) + 1, len(levels))
    seen[key] = level
    seen_file.parent.mkdir(parents=True, exist_ok=True)
    seen_file.write_text(json.dumps(seen, indent=1, sort_keys=True), encoding="utf-8")
    title, text = levels[level - 1]
    return Hint(level, len(levels), title, text)


def run_hint(which: str | None = None, exercise: str | None = None,
             console: Console | None = None, seen_file: Path = SEEN_FILE) -> int:
    """Print the next hint for the first unfinished part; 0 when shown or nothing is left."""
    console = console or make_console()
    wanted = int(exercise) if exercise else None
    for session_dir in select_sessions(which):
        with console.status(f"Running the exercise tests of {session_dir.name} ..."):
            result = run_session(session_dir, wanted)
        if result.error and not result.parts:
            if result.error == "no exercises yet":
                continue
            if wanted is not None and result.error == f"no exercise {wanted}":
                console.print(f"{session_dir.name} has no exercise {wanted}.")
                return 2
            console.print(f"[bold red]pytest could not run {session_dir.name}'s exercises:[/]")
            console.print(result.error, markup=False)
            return 2
        part = first_unfinished(result.parts, wanted)
        if part is None:
            if wanted is not None:
                console.print(f"Exercise {wanted} of {session_dir.name} passes all its tests: "
                              f"no hint needed.")
                return 0
            continue
        number = (exercise_number(part.exercise), part_number(part.part))
        levels = hints_for(session_dir).get(number)
        where = f"{session_dir.name}, exercise {number[0]} ({part.exercise}), part {number[1]}"
        if not levels:
            console.print(f"No hint written for {where} yet; its first failing test says:")
            console.print(part.first_failure or "(no message)", markup=False, soft_wrap=True)
            return 0
        hint = next_hint(levels, f"{session_dir.name}/{part.exercise}/{number[1]}", seen_file)
        console.print(f"[bold]{where}[/]: hint {hint.level} of {hint.of}, {hint.title.lower()}")
        console.print(hint.text, markup=False, soft_wrap=True)
        if hint.level < hint.of:
            console.print(f"\nStill stuck? Ask again for the next level: "
                          f"{hint_command(session_dir.name, number[0])}", markup=False, soft_wrap=True)
        else:
            console.print("\nThat was the last level. Run the part's tests alone and read "
                          "their messages: they say what was expected.", markup=False, soft_wrap=True)
        return 0
    console.print("Every exercise there passes its tests: no hint needed. Well done.")
    return 0
