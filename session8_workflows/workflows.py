"""``chain``, ``group`` and ``chord``: how tasks wait for each other, as plain data.

A workflow is built from task dicts (``{"type": "thumbnail", ...}``) and three
ways to combine them:

- ``chain(a, b, c)``: one after the other; each step gets the previous step's
  result as ``data["previous"]`` (a list of results, ``data["results"]``, when the
  previous step was a group);
- ``group([a, b, c])``: side by side, all at once (fan out);
- ``chord(group([...]), callback)``: the group, then the callback with every
  member's result, in order, as ``data["results"]`` (fan in). It is the same as
  ``chain(group, callback)``.

They nest: ``chain(chord(group(thumbnails), contact_sheet), make_zip)``.

``compile_workflow`` turns one into a list of ``Node``s, each naming the nodes it
waits for: a small graph with no cycles (the engine counts down, per node, the
parents that have not finished). Everything a workflow can get wrong is found
here, before anything is written: a piece that contains itself (a cycle), one
nested too deep, too many nodes, a task type no worker runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from session5_recovery.workers.task import as_json_object

# How deep pieces may nest. Real workflows need a handful of levels; a limit far
# below Python's recursion limit turns "10,000 levels" into one clear line.
MAX_DEPTH = 32
# Nodes per workflow: each is a task, and the engine keeps one counter per node.
MAX_NODES = 10_000
WORKFLOW_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
POLICIES = ("fail", "continue")


class WorkflowError(ValueError):
    """A workflow that cannot run as given; nothing was written."""


@dataclass
class Chain:
    """Steps run one after another (``chain(a, b, c)``)."""

    steps: list[Piece]


@dataclass
class Group:
    """Members run side by side (``group([a, b, c])``)."""

    tasks: list[Piece]


@dataclass
class Chord:
    """A group, then one callback with all the group's results (``chord(group, callback)``)."""

    header: Group
    body: Piece


Piece = dict | Chain | Group | Chord


def chain(*steps: Piece) -> Chain:
    """Run ``steps`` in order; each gets the result of the one before."""
    return Chain(list(steps))


def group(tasks: Iterable[Piece]) -> Group:
    """Run ``tasks`` side by side (they do not wait for each other)."""
    if isinstance(tasks, dict):
        raise TypeError("group() takes a list of tasks, e.g. group([a, b]); got one task dict")
    return Group(list(tasks))


def chord(header: Group | Iterable[Piece], body: Piece) -> Chord:
    """Run the group ``header``, then ``body`` once with all its results."""
    return Chord(header if isinstance(header, Group) else group(header), body)


@dataclass(frozen=True)
class Node:
    """One task of a compiled workflow."""

    name: str  # "0", "1", ... in the order the workflow lists them
    data: dict[str, Any]
    parents: tuple[str, ...] = ()
    gather: bool = False  # receives its parents' results as a list ("results"), not "previous"
    dependents: tuple[str, ...] = field(default=())

    @property
    def type(self) -> str:
        return str(self.data.get("type", "image"))

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "data": self.data, "parents": list(self.parents),
                "gather": self.gather}


def compile_workflow(piece: Piece, known_types: Sequence[str] | None = None) -> list[Node]:
    """The nodes of ``piece``, each with its parents; WorkflowError for anything wrong.

    ``known_types``: the task types the workers run (None: do not check).
    """
    nodes: list[Node] = []
    _compile(piece, nodes, depth=0, path=set())
    if not nodes:
        raise WorkflowError("the workflow has no tasks: give chain/group at least one task dict")
    if known_types is not None:
        for node in nodes:
            if node.type not in known_types:
                raise WorkflowError(
                    f"task {node.name} of the workflow has type {node.type!r}, which no worker "
                    f"runs; registered types: {', '.join(sorted(known_types))}")
    children: dict[str, list[str]] = {node.name: [] for node in nodes}
    for node in nodes:
        for parent in node.parents:
            children[parent].append(node.name)
    return [Node(n.name, n.data, n.parents, n.gather, tuple(children[n.name])) for n in nodes]


def _compile(piece: Any, nodes: list[Node], depth: int,
             path: set[int]) -> tuple[list[str], list[str], bool]:
    """Add ``piece``'s nodes; return (its entry nodes, its exit nodes, exits are a group?)."""
    if depth > MAX_DEPTH:
        raise WorkflowError(f"the workflow nests more than {MAX_DEPTH} levels deep; flatten it "
                            f"(a chain of many steps is one level: chain(a, b, c, ...))")
    if isinstance(piece, dict):
        if len(nodes) >= MAX_NODES:
            raise WorkflowError(f"the workflow has more than {MAX_NODES:,} tasks; split it")
        try:
            data = as_json_object(piece, f"task {len(nodes)} of the workflow")
        except (TypeError, ValueError) as error:
            raise WorkflowError(str(error)) from None
        name = str(len(nodes))
        nodes.append(Node(name, data))
        return [name], [name], False
    if not isinstance(piece, (Chain, Group, Chord)):
        raise WorkflowError(f"a workflow is made of task dicts, chain(), group() and chord(); "
                            f"found {type(piece).__name__}: {piece!r:.60}")
    if id(piece) in path:
        raise WorkflowError(f"the workflow contains a cycle: a {type(piece).__name__.lower()} "
                            f"contains itself, so it could never finish")
    members = piece.tasks if isinstance(piece, Group) else (
        piece.steps if isinstance(piece, Chain) else [piece.header, piece.body])
    if not members:
        raise WorkflowError(f"an empty {type(piece).__name__.lower()} in the workflow: give it at "
                            f"least one task")
    path.add(id(piece))
    try:
        if isinstance(piece, Group):
            entries: list[str] = []
            exits: list[str] = []
            for member in members:
                e, x, _ = _compile(member, nodes, depth + 1, path)
                entries += e
                exits += x
            return entries, exits, True
        entries, exits, gather = [], [], False
        for index, step in enumerate(members):
            first = len(nodes)
            e, x, is_group = _compile(step, nodes, depth + 1, path)
            if index == 0:
                entries = e
            else:
                for i in range(first, len(nodes)):
                    if nodes[i].name in e:  # the step's entries wait for the previous exits
                        nodes[i] = Node(nodes[i].name, nodes[i].data, tuple(exits), gather)
            exits, gather = x, is_group
        return entries, exits, gather
    finally:
        path.discard(id(piece))


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise WorkflowError(f"on_failure must be 'fail' (end the workflow with the task's reason) "
                            f"or 'continue' (go on without it); got {policy!r}")
    return policy


def check_workflow_id(workflow_id: Any) -> str:
    if not isinstance(workflow_id, str) or not WORKFLOW_ID.fullmatch(workflow_id):
        raise WorkflowError(f"a workflow id is 1-100 letters, digits, '-' or '_'; got "
                            f"{workflow_id!r}")
    return workflow_id
