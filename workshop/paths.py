"""Where things are in the repository, found from this file so any cwd works."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = REPO_ROOT / "solutions"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
FIGURES_DIR = NOTEBOOKS_DIR / "figures"
# Demos write their images here; git ignores it.
OUTPUT_DIR = REPO_ROOT / "output"


def session_dirs() -> list[Path]:
    """The session folders in teaching order (session1_basics, session2_pipeline, ...)."""
    return sorted(p for p in REPO_ROOT.glob("session[0-9]*_*") if p.is_dir())
