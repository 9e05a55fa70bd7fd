"""Code carried forward from earlier sessions must stay byte-for-byte identical.

``task.py`` comes from session 1, ``filters/`` and ``core/`` from session 2. A
change belongs in the original session first, then is copied here again.
(No file is deliberately different at the moment.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workshop.paths import REPO_ROOT

HERE = REPO_ROOT / "session4_redis"
COPIES = [("session1_basics", "task.py")] + [
    ("session2_pipeline", f"{folder}/{path.name}")
    for folder in ("filters", "core")
    for path in sorted((REPO_ROOT / "session2_pipeline" / folder).glob("*.py"))
]


@pytest.mark.parametrize("origin, relative", COPIES, ids=[c[1] for c in COPIES])
def test_copy_is_identical(origin: str, relative: str) -> None:
    original = REPO_ROOT / origin / relative
    copy = HERE / relative
    assert copy.exists(), f"{copy} is missing: copy it from {original}"
    assert copy.read_bytes() == original.read_bytes(), (
        f"session4_redis/{relative} differs from {origin}/{relative}: copy the original again")


@pytest.mark.parametrize("folder", ["filters", "core"])
def test_no_extra_files_in_the_copied_folders(folder: str) -> None:
    originals = {p.name for p in (REPO_ROOT / "session2_pipeline" / folder).glob("*.py")}
    copies = {p.name for p in Path(HERE / folder).glob("*.py")}
    assert copies == originals, f"session4_redis/{folder}: extra {copies - originals}, " \
                                f"missing {originals - copies}"
