"""The notebooks must never rot: each one runs top to bottom here, in quick mode.

Quick mode (``WORKSHOP_QUICK=1``) uses small sizes. A failure names the notebook and
the cell. The committed notebooks must carry no outputs (the numbers belong to whoever
runs them) and, like every module of the workshop, never import pickle.

What a learner's own run leaves in the working tree is not checked: the rules apply
to the notebooks as git has them (the index), so a notebook run and saved in Jupyter,
or an ``*.nbconvert.ipynb`` beside it, does not fail the suite.
"""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from workshop.jupyter_hooks import strip_outputs_before_save
from workshop.notebooks import NotebookCellError, list_notebooks, run_notebook
from workshop.paths import NOTEBOOKS_DIR, REPO_ROOT

EXPECTED = [
    "01_gil_threads_vs_processes.ipynb",
    "02_queue_throughput.ipynb",
    "03_scaling_workers.ipynb",
    "04_recovery_timeline.ipynb",
    "05_engines.ipynb",
]
CELL_TIMEOUT = 90  # seconds per cell in quick mode; a hang fails instead of stalling
PICKLE_IMPORT = re.compile(
    r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle|marshal|shelve)\b", re.M
)
# Worker functions must live in importable modules (spawn re-imports them by name),
# so notebook cells define no functions or classes at all.
DEFINITION = re.compile(r"^\s*(def|class|async\s+def)\s+\w+", re.M)

# Notebooks that need no Redis (they must run on a machine without one).
WITHOUT_REDIS = {"01_gil_threads_vs_processes"}


def _committed_text(path) -> str:
    """The notebook as git has it (the index), else the file: not a learner's saved run."""
    relative = path.relative_to(REPO_ROOT).as_posix()
    try:
        shown = subprocess.run(["git", "show", f":{relative}"], cwd=REPO_ROOT,
                               capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        shown = None
    if shown is not None and shown.returncode == 0:
        return shown.stdout.decode("utf-8")
    return path.read_text(encoding="utf-8")


def _cells(path):
    return json.loads(_committed_text(path))["cells"]


def _code_cells(path):
    return [c for c in _cells(path) if c["cell_type"] == "code"]


def test_the_four_notebooks_are_there():
    names = [p.name for p in list_notebooks()]
    missing = [name for name in EXPECTED if name not in names]
    assert not missing, f"missing from {NOTEBOOKS_DIR}: {missing} (found {names})"


@pytest.mark.parametrize("path", list_notebooks(), ids=lambda p: p.stem)
class TestCommittedNotebook:
    def test_has_no_outputs(self, path):
        dirty = [i + 1 for i, c in enumerate(_cells(path)) if c["cell_type"] == "code"
                 and (c.get("outputs") or c.get("execution_count") is not None)]
        assert not dirty, (
            f"{path.name}: cells {dirty} carry outputs or execution counts; commit notebooks "
            "stripped (Jupyter: Edit > Clear Outputs of All Cells, then save)"
        )

    def test_imports_no_pickle(self, path):
        offenders = [i + 1 for i, c in enumerate(_cells(path))
                     if c["cell_type"] == "code" and PICKLE_IMPORT.search("".join(c["source"]))]
        assert not offenders, f"{path.name}: cells {offenders} import a pickle-like module"

    def test_defines_no_functions_in_cells(self, path):
        offenders = [i + 1 for i, c in enumerate(_cells(path))
                     if c["cell_type"] == "code" and DEFINITION.search("".join(c["source"]))]
        assert not offenders, (
            f"{path.name}: cells {offenders} define a function or class; workloads and workers "
            "are imported from the session packages (spawn-safe), helpers from workshop.nbhelpers"
        )

    def test_asks_its_question_first_and_answers_it(self, path):
        cells = _cells(path)
        first = "".join(cells[0]["source"])
        assert cells[0]["cell_type"] == "markdown" and "?" in first, (
            f"{path.name}: the first cell should be markdown asking the notebook's question"
        )
        assert cells[-1]["cell_type"] == "markdown", f"{path.name}: end with the answer, in markdown"


@pytest.mark.notebook
@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("path", list_notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_in_quick_mode(path, request, tmp_path):
    env = {"WORKSHOP_FIGURES_DIR": str(tmp_path)}
    if path.stem in WITHOUT_REDIS:
        # It must not even look for a Redis: a REDIS_URL that answers nothing would fail it.
        env["REDIS_URL"] = "redis://127.0.0.1:1/0"
    else:
        # Skip on a machine with no Redis at all; fail in CI if none answers.
        request.getfixturevalue("redis_target")
    start = time.perf_counter()
    try:
        run = run_notebook(path, quick=True, cell_timeout=CELL_TIMEOUT, save_executed=True,
                           env=env)
    except NotebookCellError as error:
        pytest.fail(str(error), pytrace=False)
    print(f"{path.name}: {time.perf_counter() - start:.0f} s in quick mode")
    figures = sorted(p.name for p in tmp_path.glob("*.png"))
    assert figures, f"{path.name} ran but saved no figure (use nb.save_figure)"
    assert run.cells == len(_cells(path))


def test_what_a_learners_run_leaves_is_not_a_notebook_of_the_workshop(tmp_path):
    for name in ("01_gil.ipynb", "01_gil.nbconvert.ipynb", "02_queue.ipynb", "notes.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in list_notebooks(tmp_path)] == ["01_gil.ipynb", "02_queue.ipynb"]


def test_saving_a_workshop_notebook_in_jupyter_strips_its_outputs():
    class Manager:  # what Jupyter passes: the folder it serves
        root_dir = str(NOTEBOOKS_DIR)

    def model():
        return {"type": "notebook", "content": {"cells": [
            {"cell_type": "markdown", "source": "# Q?"},
            {"cell_type": "code", "source": "print(1)", "execution_count": 3,
             "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}]}]}}

    saved = model()
    strip_outputs_before_save(saved, path="01_gil_threads_vs_processes.ipynb",
                              contents_manager=Manager())
    code = saved["content"]["cells"][1]
    assert (code["outputs"], code["execution_count"]) == ([], None)
    elsewhere = model()
    strip_outputs_before_save(elsewhere, path="my_own_notes.ipynb", contents_manager=Manager())
    assert elsewhere["content"]["cells"][1]["outputs"], "a learner's own notebook keeps its outputs"
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "pre_save_hook=workshop.jupyter_hooks.strip_outputs_before_save" in makefile
