"""Code carried forward from an earlier session stays byte-for-byte identical.

Each session folder is self-contained, so a learner can ``cd`` into it and run its
demos; the price is copies. This test is what keeps the copies honest: change the
original, then copy it again (the failure message says how). A file that must
differ on purpose is not a copy: it has a name of its own and is not listed here.
"""

from __future__ import annotations

import filecmp

import pytest

from workshop.paths import REPO_ROOT

# (copy, original): a file, or a folder whose .py files are all copied.
CARRIED_FORWARD: list[tuple[str, str]] = [
    ("session3_threads/task.py", "session1_basics/task.py"),
    ("session3_threads/task_queue.py", "session1_basics/task_queue.py"),
    ("session3_threads/filters", "session2_pipeline/filters"),
    ("session3_threads/core", "session2_pipeline/core"),
    ("session4_redis/task.py", "session1_basics/task.py"),
    ("session4_redis/filters", "session2_pipeline/filters"),
    ("session4_redis/core", "session2_pipeline/core"),
    ("session5_recovery/filters", "session2_pipeline/filters"),
    ("session5_recovery/core", "session2_pipeline/core"),
    ("session5_recovery/workers/redis_connection.py", "session4_redis/workers/redis_connection.py"),
    ("session6_api/filters", "session2_pipeline/filters"),
    ("session6_api/core", "session2_pipeline/core"),
    # session6_api/workers/ and tools/ are no longer checked: session 6 is moving to
    # import session 5's (its serve already starts session 5's WorkerFleet).
    ("session6_api/workers/queue.lua", "session5_recovery/workers/queue.lua"),
    ("session7_engines/filters", "session2_pipeline/filters"),
    ("session7_engines/core", "session2_pipeline/core"),
]


def file_pairs() -> list[tuple[str, str]]:
    """Every (copy, original) file pair."""
    pairs = []
    for copy, original in CARRIED_FORWARD:
        source = REPO_ROOT / original
        if source.is_dir():
            for path in sorted(source.rglob("*.py")):
                relative = path.relative_to(source)
                pairs.append((f"{copy}/{relative}", f"{original}/{relative}"))
        else:
            pairs.append((copy, original))
    return pairs


PAIRS = file_pairs()


@pytest.mark.parametrize(("copy", "original"), PAIRS, ids=[c for c, _ in PAIRS])
def test_copy_matches_original(copy: str, original: str):
    copy_path, original_path = REPO_ROOT / copy, REPO_ROOT / original
    assert copy_path.exists(), f"{copy} is missing; copy it: cp {original} {copy}"
    assert filecmp.cmp(copy_path, original_path, shallow=False), (
        f"{copy} has drifted from {original}. Carried-forward code is copied unchanged: "
        f"edit {original}, then `cp {original} {copy}`."
    )


@pytest.mark.parametrize(("copy", "original"),
                         [(c, o) for c, o in CARRIED_FORWARD if (REPO_ROOT / o).is_dir()])
def test_no_extra_files_in_copied_folders(copy: str, original: str):
    assert (REPO_ROOT / copy).is_dir(), f"{copy} is missing; copy it: cp -r {original} {copy}"
    extra = sorted(str(p.relative_to(REPO_ROOT / copy)) for p in (REPO_ROOT / copy).rglob("*.py")
                   if not (REPO_ROOT / original / p.relative_to(REPO_ROOT / copy)).exists())
    assert not extra, f"{copy} has files its original {original} lacks: {extra}"
