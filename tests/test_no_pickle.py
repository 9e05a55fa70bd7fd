"""Tasks are JSON, never pickle: no module of ours imports a pickle-like serialiser.

(multiprocessing pickles function arguments internally; our tasks never cross
processes that way: workers read JSON from Redis.)
"""

import json
import re

from workshop.paths import REPO_ROOT

FORBIDDEN = re.compile(r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle|marshal|shelve)\b", re.M)
SKIP_DIRS = {".venv", ".git", "node_modules", "__pycache__"}


def our_files(pattern: str):
    for path in REPO_ROOT.rglob(pattern):
        if not SKIP_DIRS.intersection(path.relative_to(REPO_ROOT).parts):
            yield path


def test_no_python_module_imports_pickle():
    offenders = [str(p.relative_to(REPO_ROOT)) for p in our_files("*.py")
                 if FORBIDDEN.search(p.read_text(encoding="utf-8"))
                 and p.name != "test_no_pickle.py"]
    assert not offenders, f"pickle-like imports found (tasks must be JSON): {offenders}"


def test_no_notebook_cell_imports_pickle():
    offenders = []
    for path in our_files("*.ipynb"):
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        if any(FORBIDDEN.search("".join(c.get("source", ""))) for c in cells):
            offenders.append(str(path.relative_to(REPO_ROOT)))
    assert not offenders, f"pickle-like imports in notebooks: {offenders}"


def test_the_scan_catches_an_import():
    assert FORBIDDEN.search("x = 1\nimport pickle\n")
    assert FORBIDDEN.search("from cloudpickle import dumps")
    assert not FORBIDDEN.search("# we never import pickle here")
