"""Load the file an exercise test should check: the learner's, a solution, or a mutant.

An exercise lives in three places (ARCHITECTURE.md, "Exercises"):

- ``sessionN_x/exercises/exK_name.py``       the stub the learner edits,
- ``solutions/sessionN_x/exK_name.py``       a reference solution,
- ``solutions/sessionN_x/mutants/exK_name__mistake.py``  plausible wrong solutions.

One test file, ``sessionN_x/exercises/test_exK_name.py``, checks all of them. It
starts with::

    from workshop.exercises import load_exercise
    ex = load_exercise(__file__)

and this module decides which file to import:

- by default, the learner's own file next to the test;
- ``WORKSHOP_EXERCISE_SOURCE=solutions`` (what ``pytest --solutions`` sets): the solution;
- ``WORKSHOP_EXERCISE_FILE=/path/to/file.py``: exactly that file (the suite uses it
  for mutants).

The file is imported by path under a private module name, so the stub, the
solution and a mutant never shadow each other in ``sys.modules``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from .paths import SOLUTIONS_DIR, session_dirs

SOURCE_ENV = "WORKSHOP_EXERCISE_SOURCE"
FILE_ENV = "WORKSHOP_EXERCISE_FILE"


@dataclass(frozen=True)
class Exercise:
    """One exercise and every file that implements it."""

    session: str  # e.g. "session1_basics"
    name: str  # e.g. "ex1_transitions"
    stub: Path
    test: Path
    solution: Path
    mutants: tuple[Path, ...]

    @property
    def label(self) -> str:
        return f"{self.session}/{self.name}"


def exercise_file_for(test_file: str | Path) -> Path:
    """The file that ``test_file`` should check, following the rules above."""
    test_path = Path(test_file).resolve()
    name = test_path.stem.removeprefix("test_")
    session = test_path.parent.parent.name
    explicit = os.environ.get(FILE_ENV)
    if explicit:
        path = Path(explicit).resolve()
        if path.stem != name and not path.stem.startswith(name + "__"):
            raise RuntimeError(f"{FILE_ENV}={explicit} is not a version of {name}.py")
        return path
    if os.environ.get(SOURCE_ENV) == "solutions":
        return SOLUTIONS_DIR / session / f"{name}.py"
    return test_path.parent / f"{name}.py"


def load_exercise(test_file: str | Path) -> ModuleType:
    """Import and return the module that the test file ``test_file`` checks."""
    path = exercise_file_for(test_file)
    if not path.exists():
        raise FileNotFoundError(f"Exercise file not found: {path}")
    module_name = f"_exercise_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before running, as a normal import would be: dataclasses and
    # pickling-free multiprocessing helpers look modules up by name.
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def discover_exercises() -> list[Exercise]:
    """Every exercise in the repository, in session and exercise order."""
    found = []
    for session_dir in session_dirs():
        for test in sorted((session_dir / "exercises").glob("test_ex*.py")):
            name = test.stem.removeprefix("test_")
            solution_dir = SOLUTIONS_DIR / session_dir.name
            found.append(Exercise(
                session=session_dir.name,
                name=name,
                stub=test.parent / f"{name}.py",
                test=test,
                solution=solution_dir / f"{name}.py",
                mutants=tuple(sorted((solution_dir / "mutants").glob(f"{name}__*.py"))),
            ))
    return found
