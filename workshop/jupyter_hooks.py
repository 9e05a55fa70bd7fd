"""Jupyter saves the workshop's notebooks without outputs (``make lab`` sets this up).

A learner who runs a notebook and saves it would otherwise write their numbers,
figures and execution counts into a tracked file: ``git status`` shows it changed,
a later ``git pull`` conflicts, and the suite (which checks that committed notebooks
carry no outputs) would complain about a file the learner never meant to change.
The executed copy with every output is still there: ``make notebooks`` writes one to
``output/notebooks/``, and the figures go to ``output/notebooks/figures/``.

Used as ``--ContentsManager.pre_save_hook=workshop.jupyter_hooks.strip_outputs_before_save``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .paths import NOTEBOOKS_DIR

# The workshop's own notebooks, 01_name.ipynb in notebooks/ (a learner's other notebooks keep outputs).
WORKSHOP_NOTEBOOK = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")


def strip_outputs(notebook: dict[str, Any]) -> dict[str, Any]:
    """Remove outputs and execution counts from every code cell of ``notebook`` (in place)."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return notebook


def is_workshop_notebook(path: Path) -> bool:
    return path.parent.resolve() == NOTEBOOKS_DIR.resolve() and bool(WORKSHOP_NOTEBOOK.match(path.name))


def strip_outputs_before_save(model: dict[str, Any], path: str = "", contents_manager: Any = None,
                              **_: Any) -> None:
    """Jupyter's pre-save hook: strip the workshop's notebooks, leave every other file alone.

    ``path`` is relative to the folder Jupyter serves (``notebooks/`` for ``make lab``).
    """
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    root = Path(getattr(contents_manager, "root_dir", None) or Path.cwd())
    if is_workshop_notebook(root / path.lstrip("/")):
        strip_outputs(model["content"])
