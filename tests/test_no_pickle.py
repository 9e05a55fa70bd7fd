"""Tasks are JSON, never pickle: no module of ours imports a pickle-like serialiser.

(multiprocessing pickles function arguments internally; our tasks never cross
processes that way: workers read JSON from Redis.)
"""

import json
import re

from workshop.paths import REPO_ROOT

FORBIDDEN = re.compile(r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle|marshal|shelve)\b", re.M)
# The other doors to pickle: a second name on an import line, the C module, libraries
# built on pickle, imports by name, and the pickle readers of pandas and numpy.
PICKLE_LIBS = r"_?pickle|cPickle|dill|cloudpickle|marshal|shelve|jsonpickle|joblib"
OTHER_DOORS = re.compile(
    rf"^\s*import\s+[\w., ]*\b({PICKLE_LIBS})\b"
    rf"|^\s*from\s+({PICKLE_LIBS})\b"
    rf"|(__import__|import_module)\(\s*[\"']({PICKLE_LIBS})[\"']"
    r"|\bread_pickle\(|\.to_pickle\(|allow_pickle\s*=\s*True",
    re.M)
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


def test_no_python_module_reaches_pickle_another_way():
    offenders = [f"{p.relative_to(REPO_ROOT)}: {m.group(0).strip()!r}"
                 for p in our_files("*.py") if p.name != "test_no_pickle.py"
                 for m in OTHER_DOORS.finditer(p.read_text(encoding="utf-8"))]
    assert not offenders, f"pickle reached another way (tasks must be JSON): {offenders}"


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


def test_the_second_scan_catches_the_other_doors():
    for code in ("import os, pickle", "import json as j, _pickle", "from joblib import dump",
                 "m = __import__('pickle')", 'importlib.import_module("dill")',
                 "df = pd.read_pickle(path)", "df.to_pickle(path)",
                 "np.load(path, allow_pickle=True)", "import jsonpickle"):
        assert OTHER_DOORS.search(code), f"not caught: {code}"
    for code in ("import json", "# pickled like any other", "import picklesque_name_free",
                 "np.load(path, allow_pickle=False)", "importlib.import_module(module)"):
        assert not OTHER_DOORS.search(code), f"false alarm: {code}"
