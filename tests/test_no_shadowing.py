"""No module a learner runs beside shadows the standard library.

Each session runs from inside its folder (``cd session8_workflows; python -m
session8_workflows``, ``python demos/demo_x.py``). Python puts that folder (or the
script's folder) first on ``sys.path``, so a file there named like a standard
module (``queue.py``, ``signal.py``) is imported in its place by every library that
asks for the real one, and the program dies far from the cause.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from workshop.paths import session_dirs

RUN_FROM = ("", "demos")  # the session folder itself, and the folder of its scripts


def module_names(folder: Path) -> set[str]:
    """The top-level names importable from ``folder``: its .py files and packages."""
    files = {path.stem for path in folder.glob("*.py")}
    packages = {path.name for path in folder.iterdir() if (path / "__init__.py").is_file()}
    return files | packages


@pytest.mark.parametrize("session", session_dirs(), ids=lambda path: path.name)
def test_nothing_a_session_runs_beside_shadows_the_standard_library(session: Path):
    shadowing = sorted(f"{(session / sub / name).relative_to(session.parent)}"
                       for sub in RUN_FROM if (session / sub).is_dir()
                       for name in module_names(session / sub)
                       if name in sys.stdlib_module_names and name != "__main__")
    assert not shadowing, (
        f"{shadowing} share a name with a standard library module: run from inside the "
        f"folder, they are imported in its place. Rename them (e.g. workflow_queue.py).")
