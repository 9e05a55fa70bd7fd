"""Where things are in the repository, found from this file so any cwd works."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = REPO_ROOT / "solutions"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
# The committed figures (the READMEs show them): rewritten only on purpose, with
# `make notebooks FIGURES=refresh` / `make bench FIGURES=refresh` (--update-figures).
FIGURES_DIR = NOTEBOOKS_DIR / "figures"
# Demos, benchmarks and notebooks write here; git ignores it, so a learner's runs
# never change a tracked file (and a later `git pull` never conflicts).
OUTPUT_DIR = REPO_ROOT / "output"
LEARNER_FIGURES_DIR = OUTPUT_DIR / "notebooks" / "figures"


def session_dirs() -> list[Path]:
    """The session folders in teaching order (session1_basics, session2_pipeline, ...)."""
    return sorted(p for p in REPO_ROOT.glob("session[0-9]*_*") if p.is_dir())


def session_numbers() -> list[int]:
    """The numbers of the sessions that exist, in order: [1, 2, ..., 8]."""
    return sorted(int(p.name.removeprefix("session").split("_", 1)[0]) for p in session_dirs())
