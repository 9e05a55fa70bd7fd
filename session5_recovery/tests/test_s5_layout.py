"""The queue (``workers/``) and the tools around it (``tools/``) import one way only.

A learner opening ``workers/`` should find the queue and nothing else, and a
worker should run without the command line, the monitor or the fleet. So the
arrows point from ``tools/`` into ``workers/``, never back. The one exception is
``workers/__main__.py``: Python runs it for ``python -m session5_recovery.workers``
and nothing imports it, so it may hand over to ``tools/cli.py``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from workshop.paths import REPO_ROOT

SESSION = REPO_ROOT / "session5_recovery"
ENTRY_SCRIPT = "__main__.py"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (a lazy import is still an arrow),
    with relative imports resolved against the file's package."""
    package = ".".join(path.parent.relative_to(REPO_ROOT).parts)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + [node.module or ""])
            else:
                base = node.module or ""
            found.add(base.rstrip("."))
            found.update(f"{base.rstrip('.')}.{alias.name}" for alias in node.names)
    return found


def imports_a_tool(path: Path) -> bool:
    return any(name == "session5_recovery.tools" or name.startswith("session5_recovery.tools.")
               for name in imported_modules(path))


LIBRARY = sorted(p for p in (SESSION / "workers").glob("*.py") if p.name != ENTRY_SCRIPT)


def test_the_reader_resolves_relative_imports():
    # A reader that resolved nothing would let every library file pass below.
    assert imports_a_tool(SESSION / "workers" / ENTRY_SCRIPT)
    assert "session5_recovery.workers.redis_task_queue" in imported_modules(
        SESSION / "tools" / "timeline.py")


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.name)
def test_no_library_module_imports_a_tool(path: Path):
    assert not imports_a_tool(path), (
        f"workers/{path.name} imports from tools/. The queue must run without its tools: "
        f"move what both need into workers/, and let the tool import it from there.")


def test_every_tool_is_outside_the_library():
    tools = {p.name for p in (SESSION / "tools").glob("*.py")}
    assert {"cli.py", "monitor.py", "timeline.py", "fleet.py"} <= tools
    assert not tools & {p.name for p in LIBRARY} - {"__init__.py"}


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)


def test_importing_the_queue_loads_no_tool():
    done = run_python("-c", "import sys, session5_recovery.workers; "
                            "print(sorted(m for m in sys.modules if '.tools' in m))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_documented_command_still_runs_the_command_line():
    done = run_python("-m", "session5_recovery.workers", "--help")
    assert done.returncode == 0, done.stderr
    for command in ("worker", "enqueue", "stats", "monitor", "dlq", "reap", "events"):
        assert command in done.stdout
