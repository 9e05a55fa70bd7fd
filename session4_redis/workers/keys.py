"""The names of every Redis key a queue uses, in one place.

All keys start with the queue name, so several queues share one Redis without
meeting, ``redis-cli --scan --pattern 'image_processing:*'`` shows one queue,
and cleaning up a queue never touches anybody else's data::

    {q}:pending          LIST  task ids waiting (LPUSH in, BLMOVE out at the right: FIFO)
    {q}:processing       LIST  task ids a worker has claimed and not finished
    {q}:completed        LIST  task ids that succeeded (newest first)
    {q}:failed           LIST  task ids that failed (newest first)
    {q}:task:{id}        HASH  the task: data (JSON), status, worker_id, attempts, timestamps, error
    {q}:result:{id}      HASH  the result of a completed task, one field per key (values in JSON)
"""

from __future__ import annotations

from dataclasses import dataclass

# The four lists a task id moves through, in the order it visits them.
STATES: tuple[str, ...] = ("pending", "processing", "completed", "failed")


@dataclass(frozen=True)
class QueueKeys:
    """Key names for the queue called ``name`` (``QueueKeys("image_processing").pending``)."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or any(c in self.name for c in " *?[]"):
            raise ValueError(
                f"queue name must be a non-empty string without spaces or glob characters "
                f"(* ? [ ]), got {self.name!r}; for example 'image_processing'"
            )

    @property
    def pending(self) -> str:
        return f"{self.name}:pending"

    @property
    def processing(self) -> str:
        return f"{self.name}:processing"

    @property
    def completed(self) -> str:
        return f"{self.name}:completed"

    @property
    def failed(self) -> str:
        return f"{self.name}:failed"

    def state(self, state: str) -> str:
        """The list for ``state`` ("pending", "processing", "completed" or "failed")."""
        state = str(state)
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; a task id is in one of {list(STATES)}")
        return f"{self.name}:{state}"

    def task(self, task_id: str) -> str:
        return f"{self.name}:task:{task_id}"

    def result(self, task_id: str) -> str:
        return f"{self.name}:result:{task_id}"

    def patterns(self) -> list[str]:
        """SCAN patterns that match the per-task keys (for ``clear``)."""
        return [f"{self.name}:task:*", f"{self.name}:result:*"]
