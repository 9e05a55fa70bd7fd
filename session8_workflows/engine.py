"""The workflow engine: start a workflow, count its nodes down, never wait for ever.

Redis holds each workflow (see keys.py): its spec (the compiled nodes), its
state (running, completed, failed), how many nodes remain, one result per
node, and per node how many parents it still waits for.

- ``start`` writes all of it and stages the nodes that wait for nobody, in one
  script, after every check (workflows.py) has passed;
- a worker that finishes a node calls ``record_success`` before it reports the
  task done to session 5. One script records the result (once: a node run twice
  by recovery is recorded by its first finish only), counts it off each waiting
  node, and *stages* a node whose count reaches zero in the same atomic step.
  The staged node is enqueued under the id ``<workflow>.<node>``, so however
  often the promotion is repeated, the chord's callback is enqueued once;
- ``sweep`` (in every worker's periodic chores) finds nodes that session 5 has
  dead-lettered or that were cancelled, and applies the workflow's policy:
  ``fail`` ends the workflow with the node's reason (and cancels its pending
  nodes), ``continue`` records the failure as the node's result and goes on.
  So no workflow waits for a node that cannot finish.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from session5_recovery.workers import DuplicateTaskError, TaskStatus

from .handlers import demo_handlers
from .workflows import (
    Node,
    Piece,
    WorkflowError,
    check_policy,
    check_workflow_id,
    compile_workflow,
)

if TYPE_CHECKING:
    from .workflow_queue import WorkflowQueue

# The task types a default worker runs (make_worker): what a workflow may name unless
# the caller says otherwise.
DEFAULT_TYPES: tuple[str, ...] = tuple(demo_handlers().names())


@dataclass(frozen=True)
class NodeView:
    """One node as ``show`` prints it."""

    name: str
    task_id: str
    type: str
    parents: tuple[str, ...]
    state: str  # waiting, staged, pending, processing, delayed, completed, dead_lettered, ...
    result: Any = None
    progress: tuple[int, int, str] | None = None


@dataclass(frozen=True)
class WorkflowView:
    """A workflow's record and its nodes, read at one moment."""

    id: str
    state: str
    policy: str
    reason: str
    total: int
    remaining: int
    failed: int
    nodes: tuple[NodeView, ...]


class Workflows:
    """The workflows of one ``WorkflowQueue`` (``queue.workflows``)."""

    def __init__(self, queue: WorkflowQueue) -> None:
        self.queue = queue
        self.keys = queue.s8
        self._specs: dict[str, dict[str, Node]] = {}  # a spec never changes: cache it

    @staticmethod
    def task_id(workflow_id: str, node: str) -> str:
        """The id a node is enqueued under: the same however often it is enqueued."""
        return f"{workflow_id}.{node}"

    # --- starting -------------------------------------------------------------

    def start(self, piece: Piece, *, on_failure: str = "fail", workflow_id: str | None = None,
              known_types: Sequence[str] | None = DEFAULT_TYPES) -> str:
        """Check ``piece``, write the workflow, enqueue its first tasks; its id.

        ``on_failure``: "fail" (a node that cannot finish ends the workflow, with
        its reason) or "continue" (its failure becomes its result, the others go
        on). ``known_types``: the task types the workers run (default: those of
        ``demo_handlers()``, what ``make_worker`` runs; None: no check); a node of
        another type is refused here. WorkflowError (one line) before anything is
        written.
        """
        check_policy(on_failure)
        workflow_id = check_workflow_id(workflow_id or f"wf-{uuid.uuid4().hex[:12]}")
        nodes = compile_workflow(piece, known_types)
        spec = json.dumps([node.as_json() for node in nodes])
        args: list[Any] = [workflow_id, on_failure, spec, len(nodes)]
        for node in nodes:
            args += [node.name, self.task_id(workflow_id, node.name), len(node.parents)]
        reply = self.queue.s8_call(
            "wf_start", [self.keys.workflow(workflow_id), self.keys.waiting(workflow_id),
                         self.keys.staged, self.keys.staged_data, self.keys.running,
                         self.queue.keys.events], *args)
        if reply[0] == "duplicate":
            raise WorkflowError(f"a workflow with id {workflow_id!r} exists already; an id is "
                                f"used once (leave it out to get a fresh one)")
        # The first tasks go to the queue now, a batch per call (workers' chores would
        # also promote them, a batch per round).
        for _ in range(len(reply) // self.queue.promote_batch + 1):
            if not self.queue.promote_staged():
                break
        return workflow_id

    def spec(self, workflow_id: str) -> dict[str, Node]:
        """The workflow's nodes by name (read once, then cached: it never changes)."""
        if workflow_id not in self._specs:
            text = self.queue.client.hget(self.keys.workflow(workflow_id), "spec")
            if text is None:
                raise KeyError(workflow_id)
            nodes = [Node(n["name"], n["data"], tuple(n["parents"]), n["gather"])
                     for n in json.loads(text)]
            children: dict[str, list[str]] = {n.name: [] for n in nodes}
            for n in nodes:
                for parent in n.parents:
                    children[parent].append(n.name)
            self._specs[workflow_id] = {n.name: Node(n.name, n.data, n.parents, n.gather,
                                                     tuple(children[n.name])) for n in nodes}
        return self._specs[workflow_id]

    def state(self, workflow_id: str) -> str | None:
        return self.queue.client.hget(self.keys.workflow(workflow_id), "state")

    # --- a node becomes a task -----------------------------------------------------

    def enqueue_node(self, task_id: str, workflow_id: str, name: str) -> int:
        """Enqueue a staged node with its parents' results (1), or drop it (0).

        Dropped if the workflow is no longer running (it failed) or if the node is
        enqueued already (a repeated promotion: DuplicateTaskError).
        """
        if self.state(workflow_id) != "running":
            return 0
        node = self.spec(workflow_id)[name]
        data = dict(node.data)
        data["workflow"] = {"id": workflow_id, "node": name}
        if node.parents:
            texts = self.queue.client.hmget(self.keys.results(workflow_id), list(node.parents))
            results = [json.loads(t) if t is not None else None for t in texts]
            if node.gather:
                data["results"] = results
            else:
                data["previous"] = results[0]
        try:
            self.queue.add_task(data, task_id=task_id)
        except DuplicateTaskError:
            return 0
        except (TypeError, ValueError) as error:  # e.g. the results are too big for one task
            self.record_failure(workflow_id, name, f"could not enqueue it: {error}")
            return 0
        return 1

    # --- a node finishes ---------------------------------------------------------------

    def record_success(self, workflow_id: str, name: str, result: Any) -> list[str]:
        """Record a node's result and stage what waited for it; the task ids staged."""
        staged = self._done(workflow_id, name, result, failed=False)
        if staged:
            self.queue.promote_staged()
        return staged

    def record_failure(self, workflow_id: str, name: str, reason: str) -> str:
        """A node cannot finish: apply the workflow's policy; the workflow's state after."""
        policy = self.queue.client.hget(self.keys.workflow(workflow_id), "policy")
        if policy is None:
            return "unknown"
        if policy == "continue":
            if self._done(workflow_id, name, {"failed": True, "error": reason}, failed=True):
                self.queue.promote_staged()
            return self.state(workflow_id) or "unknown"
        failure = json.dumps({"failed": True, "error": reason})
        full_reason = f"task {name} ({self.task_id(workflow_id, name)}) failed: {reason}"
        reply = self.queue.s8_call(
            "wf_fail", [self.keys.workflow(workflow_id), self.keys.results(workflow_id),
                        self.keys.running, self.queue.keys.events],
            workflow_id, name, failure, full_reason)
        if reply[1] == "failed":
            self._cancel_pending(workflow_id)
        return reply[1]

    def _done(self, workflow_id: str, name: str, result: Any, *, failed: bool) -> list[str]:
        node = self.spec(workflow_id)[name]
        args: list[Any] = [workflow_id, name, json.dumps(result), "1" if failed else "0"]
        for dependent in node.dependents:
            args += [dependent, self.task_id(workflow_id, dependent)]
        reply = self.queue.s8_call(
            "wf_done", [self.keys.workflow(workflow_id), self.keys.results(workflow_id),
                        self.keys.waiting(workflow_id), self.keys.staged, self.keys.staged_data,
                        self.keys.running, self.queue.keys.events], *args)
        return list(reply[3:])

    def _cancel_pending(self, workflow_id: str) -> int:
        """Cancel the failed workflow's nodes still waiting in pending (running ones finish)."""
        return sum(self.queue.cancel(self.task_id(workflow_id, name))
                   for name in self.spec(workflow_id))

    # --- nothing waits for ever -------------------------------------------------------

    def sweep(self) -> int:
        """Apply the policy to running workflows' nodes that session 5 gave up on; how many.

        O(unfinished nodes of running workflows): one pipelined read of each such
        node's status. A dead-lettered node has its reason; a cancelled one "cancelled".
        """
        handled = 0
        for workflow_id in sorted(self.queue.client.smembers(self.keys.running)):
            try:
                names = list(self.spec(workflow_id))
            except KeyError:
                continue
            recorded = set(self.queue.client.hkeys(self.keys.results(workflow_id)))
            open_nodes = [n for n in names if n not in recorded]
            pipe = self.queue.client.pipeline(transaction=False)
            for name in open_nodes:
                pipe.hmget(self.queue.keys.task(self.task_id(workflow_id, name)), "status", "reason")
            for name, (status, reason) in zip(open_nodes, pipe.execute(), strict=True):
                if status == TaskStatus.DEAD_LETTERED.value:
                    self.record_failure(workflow_id, name, reason or "dead-lettered")
                    handled += 1
                elif status == TaskStatus.CANCELLED.value:
                    self.record_failure(workflow_id, name, "cancelled")
                    handled += 1
        return handled

    # --- reading ------------------------------------------------------------------------

    def view(self, workflow_id: str) -> WorkflowView:
        """The workflow and each node's state; KeyError if there is no such workflow."""
        meta = self.queue.client.hgetall(self.keys.workflow(workflow_id))
        if not meta:
            raise KeyError(workflow_id)
        spec = self.spec(workflow_id)
        results = self.queue.client.hgetall(self.keys.results(workflow_id))
        waiting = self.queue.client.hgetall(self.keys.waiting(workflow_id))
        staged = set(self.queue.client.hkeys(self.keys.staged_data))
        pipe = self.queue.client.pipeline(transaction=False)
        for name in spec:
            pipe.hmget(self.queue.keys.task(self.task_id(workflow_id, name)), "status",
                       "progress_done", "progress_total", "progress_message")
        views = []
        for (name, node), (status, done, total, message) in zip(spec.items(), pipe.execute(),
                                                                 strict=True):
            task_id = self.task_id(workflow_id, name)
            result = json.loads(results[name]) if name in results else None
            if status:
                state = status
            elif task_id in staged:
                state = "staged"
            elif result is not None:
                state = "failed" if isinstance(result, dict) and result.get("failed") else "done"
            else:
                state = f"waiting ({waiting.get(name, '?')} left)"
            if isinstance(result, dict) and result.get("failed") and status != "dead_lettered":
                state = f"{state}, failed"
            progress = (int(done), int(total), message or "") if done is not None else None
            views.append(NodeView(name, task_id, node.type, node.parents, state, result, progress))
        return WorkflowView(workflow_id, meta.get("state", "?"), meta.get("policy", "?"),
                            meta.get("reason", ""), int(meta.get("nodes", 0)),
                            int(meta.get("remaining", 0)), int(meta.get("failed", 0)),
                            tuple(views))
