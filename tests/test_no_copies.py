"""A session imports what it does not change; it copies a file only to change it.

Sessions are layers: session 3 runs session 1's queue and session 2's filters by
importing them (``from session2_pipeline.core import FilterPipeline``), so there is
one definition of each idea and a search finds it once. A file that is a
byte-for-byte copy of another session's file teaches nothing, so none may exist.

A later session may take an earlier file as its starting point and change it
(session 5's ``workers/redis_worker.py`` grows out of session 4's). Such a file
keeps its original's place in the session, is listed in ``COPIED_TO_CHANGE`` with
its original (a file that moved, such as session 5's ``tools/cli.py``, too), and
must really differ from it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import pytest

from workshop.paths import REPO_ROOT, session_dirs

SKIPPED_DIRS = {"output", "__pycache__", "node_modules", ".ipynb_checkpoints"}
NOT_LIBRARY = {"demos", "exercises", "tests"}

# (copy, original): files a session took from an earlier one in order to change them.
COPIED_TO_CHANGE: list[tuple[str, str]] = [
    ("session5_recovery/workers/__main__.py", "session4_redis/workers/__main__.py"),
    ("session5_recovery/workers/keys.py", "session4_redis/workers/keys.py"),
    ("session5_recovery/workers/process_entry.py", "session4_redis/workers/process_entry.py"),
    ("session5_recovery/workers/redis_task_queue.py", "session4_redis/workers/redis_task_queue.py"),
    ("session5_recovery/workers/redis_worker.py", "session4_redis/workers/redis_worker.py"),
    ("session5_recovery/workers/task.py", "session1_basics/task.py"),
    ("session5_recovery/tools/cli.py", "session4_redis/workers/cli.py"),
    ("session5_recovery/tools/monitor.py", "session4_redis/workers/monitor.py"),
]


def session_number(name: str) -> int:
    """5 for ``session5_recovery`` (or a path inside it)."""
    return int(name[len("session"):].split("_")[0])


def sessions_in_order() -> list[Path]:
    return sorted(session_dirs(), key=lambda p: session_number(p.name))


def session_files(session: Path) -> list[Path]:
    return sorted(path for path in session.rglob("*") if path.is_file() and not any(
        part in SKIPPED_DIRS or part.startswith(".") for part in path.relative_to(session).parts))


def relative(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def test_no_file_is_a_copy_of_another_sessions_file():
    by_content: dict[str, list[Path]] = defaultdict(list)
    for session in session_dirs():
        for path in session_files(session):
            content = path.read_bytes()
            if content.strip():  # empty package markers are alike by nature
                by_content[hashlib.sha256(content).hexdigest()].append(path)
    copies = [[relative(p) for p in paths] for paths in by_content.values()
              if len({p.relative_to(REPO_ROOT).parts[0] for p in paths}) > 1]
    assert not copies, (
        f"files identical across sessions: {copies}. A session imports what it does not "
        f"change from the session that introduced it (e.g. `from session2_pipeline.core "
        f"import FilterPipeline`): delete the copy and import the original.")


def library_paths(session: Path) -> set[str]:
    """A session's library files, relative to the session folder (``workers/keys.py``)."""
    return {path.relative_to(session).as_posix() for path in session_files(session)
            if path.suffix in {".py", ".lua"} and path.name != "__init__.py"
            and not NOT_LIBRARY & set(path.relative_to(session).parts[:-1])}


# A file that shares at least this share of its lines with an earlier session's file in
# the same place started as a copy of it. Two programs may well both be called
# ``cli.py``; sharing most of their lines is what makes one the other's copy.
SHARED_LINES_OF_A_COPY = 0.5
# An entry script of three lines (``from .cli import main``) is alike by nature, as
# empty package markers are: files shorter than this are not judged.
LINES_TO_JUDGE = 5


def meaningful_lines(path: Path) -> set[str]:
    """The lines that say something (not blank, not a lone bracket or keyword)."""
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if len(line.strip()) > 12}


def shared_share(later: Path, earlier: Path) -> float:
    lines = meaningful_lines(later)
    if len(lines) < LINES_TO_JUDGE:
        return 0.0
    return len(lines & meaningful_lines(earlier)) / len(lines)


def test_a_file_in_an_earlier_sessions_place_is_declared():
    # A file in an earlier session's place that shares most of its lines started as a copy.
    declared = {copy for copy, _ in COPIED_TO_CHANGE}
    seen: dict[str, Path] = {}  # place in a session -> the earliest session's file there
    undeclared = []
    for session in sessions_in_order():
        for place in sorted(library_paths(session)):
            earlier = seen.get(place)
            if (earlier is not None and f"{session.name}/{place}" not in declared
                    and shared_share(session / place, earlier) >= SHARED_LINES_OF_A_COPY):
                undeclared.append(f"{session.name}/{place} (mostly {relative(earlier)})")
            seen.setdefault(place, session / place)
    assert not undeclared, (
        f"{undeclared}: a later session has a file where an earlier one does, sharing most "
        f"of its lines. If it changes the earlier file on purpose, list it in "
        f"COPIED_TO_CHANGE with its original; if not, delete it and import the original.")


@pytest.mark.parametrize(("copy", "original"), COPIED_TO_CHANGE, ids=[c for c, _ in COPIED_TO_CHANGE])
def test_a_file_copied_to_change_does_change(copy: str, original: str):
    copy_path, original_path = REPO_ROOT / copy, REPO_ROOT / original
    assert copy_path.is_file() and original_path.is_file(), (
        f"{copy} or its original {original} is gone: update COPIED_TO_CHANGE")
    assert session_number(copy) > session_number(original), f"{original} is not earlier"
    assert copy_path.read_bytes() != original_path.read_bytes(), (
        f"{copy} is identical to {original}: delete it and import the original")
