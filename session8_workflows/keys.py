"""Every Redis key session 8 adds to a queue, next to session 5's.

They share the queue's hash tag (``{q}:``), so one script may touch them together
with the queue's own keys (the event stream, the set of held ids), as Redis
Cluster asks. ``s8:`` keeps them apart from session 5's names.
"""

from __future__ import annotations

from dataclasses import dataclass

from session5_recovery.workers import QueueKeys


@dataclass(frozen=True)
class WorkflowKeys:
    """The key names for one queue; ``queue`` is session 5's ``QueueKeys``."""

    queue: QueueKeys

    @property
    def base(self) -> str:
        return f"{self.queue.prefix}s8:"

    @property
    def staged(self) -> str:
        """ZSET: task id -> the time it became ready (workflow nodes waiting to be enqueued).

        Delayed tasks (``add_task(..., delay=)``) are session 5's: ``{q}:delayed``.
        """
        return f"{self.base}staged"

    @property
    def staged_data(self) -> str:
        """HASH: task id -> its envelope (JSON: which workflow node it is)."""
        return f"{self.base}staged:data"

    @property
    def leader(self) -> str:
        """STRING: the scheduler leader's token, with the lease's TTL."""
        return f"{self.base}scheduler:leader"

    @property
    def schedules(self) -> str:
        """HASH: schedule name -> its definition (JSON), written by the leader."""
        return f"{self.base}schedules"

    @property
    def last_due(self) -> str:
        """HASH: schedule name -> the last due time handled (fired or skipped)."""
        return f"{self.base}schedules:last_due"

    @property
    def running(self) -> str:
        """SET: the ids of the workflows still running (what the sweep looks at)."""
        return f"{self.base}workflows:running"

    def workflow(self, wid: str) -> str:
        """HASH: one workflow's state, policy, spec, counters, reason."""
        return f"{self.base}wf:{wid}"

    def results(self, wid: str) -> str:
        """HASH: node -> its result (JSON), written once per node."""
        return f"{self.base}wf:{wid}:results"

    def waiting(self, wid: str) -> str:
        """HASH: node -> how many of its parents have not finished."""
        return f"{self.base}wf:{wid}:waiting"

    @property
    def pattern(self) -> str:
        return f"{self.base}*"
