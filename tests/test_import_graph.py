"""Every import arrow in the repository points one way, and sessions stand alone.

The test reads every Python file as text (nothing is imported), collects the
imports it makes, at the top and inside functions alike (a lazy import is still
an arrow; hiding a circle in a function is what this test exists to catch), and
checks two graphs:

- modules: ``session2_pipeline.filters.blur`` -> ``session2_pipeline.core.registry``;
- parts: the same arrows between the folders a learner sees, such as
  ``session2_pipeline.core`` and ``session2_pipeline.filters``, or
  ``workshop.bench`` and a session's module. Two parts that import
  each other are a circle even when no single pair of modules is.

An entry script (``__main__.py``, what ``python -m package`` runs) counts in
the module graph but not in the parts graph: nothing imports it (a test checks
that), so its arrows never run when a part is imported. That is how
``python -m session5_recovery.workers`` keeps its name while the command line
lives in ``session5_recovery.tools``, which imports ``workers`` and not the
other way round.

Sessions are layers: a session (its library, demos, tests and exercises, and its
solutions) imports what it does not change from the earlier session that
introduced it, and never from a later session.

Imports under ``if TYPE_CHECKING:`` are left out: they never run, they only name
types for the type checker. A session's library (everything outside its
``demos/``, ``exercises/`` and ``tests/``) may not import ``workshop``: the
workshop's tools use the sessions, never the other way round.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from workshop.paths import REPO_ROOT, session_dirs

NOT_LIBRARY = ("demos", "exercises", "tests")
SKIPPED_DIRS = {".venv", "output", "build", "node_modules", "__pycache__"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files() -> dict[str, Path]:
    files = {}
    for path in sorted(REPO_ROOT.rglob("*.py")):
        relative = path.relative_to(REPO_ROOT).parts
        if any(part in SKIPPED_DIRS or part.startswith(".") for part in relative):
            continue
        files[module_name(path)] = path
    return files


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except the bodies of ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node):
            children: list[ast.AST] = list(node.orelse)
        else:
            children = list(ast.iter_child_nodes(node))
        for child in children:
            visit(child)

    visit(tree)
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The repository's modules that module ``name`` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            bases = [alias.name for alias in node.names]
            candidates = bases
        else:
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # "from package import module" names a module; "from module import name" does not.
            candidates = [f"{base}.{alias.name}" for alias in node.names
                          if f"{base}.{alias.name}" in known] or [base]
        targets.update(c for c in candidates if c in known and c != name)
    return targets


def part_of(module: str) -> str:
    """The folder-level part a module belongs to: its first two name components."""
    return ".".join(module.split(".")[:2])


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle in ``graph`` as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


FILES = python_files()
MODULE_GRAPH = {name: imports_of(name, path, set(FILES)) for name, path in FILES.items()}


def is_entry_script(module: str) -> bool:
    return module.rpartition(".")[2] == "__main__"


def part_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for source, targets in MODULE_GRAPH.items():
        edges = graph.setdefault(part_of(source), set())
        if is_entry_script(source):
            continue
        edges.update(part_of(t) for t in targets if part_of(t) != part_of(source))
    return graph


def test_the_graph_sees_the_repository():
    # A reader that found nothing would pass every check below.
    assert "session2_pipeline.filters.blur" in FILES
    assert "session2_pipeline.core.registry" in MODULE_GRAPH["session2_pipeline.filters.blur"]


def test_no_module_imports_itself_in_a_circle():
    cycle = find_cycle(MODULE_GRAPH)
    assert cycle is None, "import circle between modules: " + " -> ".join(cycle or [])


def test_no_two_parts_import_each_other():
    cycle = find_cycle(part_graph())
    assert cycle is None, (
        "import circle between parts of the repository: " + " -> ".join(cycle or []) +
        ". Make the arrow point one way: move what both need into the lower part, "
        "or let the lower part be filled by the upper one (as the filter registry is).")


def test_no_module_imports_an_entry_script():
    # What lets the parts graph leave entry scripts out: they are never imported.
    importers = sorted(f"{source} imports {target}" for source, targets in MODULE_GRAPH.items()
                       for target in targets if is_entry_script(target))
    assert not importers, f"an entry script (__main__.py) is imported: {importers}"
    assert "session5_recovery.tools.cli" in MODULE_GRAPH["session5_recovery.workers.__main__"]


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert part_graph()  # parts were found


def library_modules(session: Path) -> list[str]:
    names = []
    for name, path in FILES.items():
        relative = path.relative_to(REPO_ROOT).parts
        if relative[0] == session.name and not set(relative[1:-1]) & set(NOT_LIBRARY):
            names.append(name)
    return names


@pytest.mark.parametrize("session", session_dirs(), ids=lambda p: p.name)
def test_a_sessions_library_does_not_import_the_workshop_tools(session: Path):
    modules = library_modules(session)
    assert modules, f"no library modules found in {session.name}"
    offenders = sorted(f"{name} imports {target}" for name in modules
                       for target in MODULE_GRAPH[name] if target.split(".")[0] == "workshop")
    assert not offenders, (
        f"{session.name}'s library imports the workshop's tools: {offenders}. The workshop "
        f"uses the sessions, never the other way round: import what the library needs from "
        f"the session that has it (e.g. session2_pipeline.core.samples, "
        f"session4_redis.workers.redis_connection), or move the code into demos/ or tests/.")


def session_of(module: str) -> int | None:
    """The session number a module belongs to (its solutions count as the session's), or None."""
    parts = module.split(".")
    if parts[0] == "solutions" and len(parts) > 1:
        parts = parts[1:]
    if not parts[0].startswith("session") or "_" not in parts[0]:
        return None
    return int(parts[0][len("session"):].split("_")[0])


def test_session_of():
    assert session_of("session5_recovery.workers.keys") == 5
    assert session_of("solutions.session3_threads.ex1_pool") == 3
    assert session_of("session12_more.x") == 12
    assert session_of("workshop.bench") is None and session_of("solutions") is None


def test_a_session_imports_only_from_earlier_sessions():
    later = sorted(f"{source} imports {target}" for source, targets in MODULE_GRAPH.items()
                   for target in targets
                   if (here := session_of(source)) is not None
                   and (there := session_of(target)) is not None and there > here)
    assert not later, (
        f"a session imports a later session: {later}. Sessions are layers: move what both "
        f"need into the earlier session, the one that introduces it.")
    # The layers are really used: session 3 runs session 1's queue and session 2's filters.
    assert "session1_basics.task_queue" in MODULE_GRAPH["session3_threads.workers.pool"]
