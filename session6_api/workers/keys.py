"""The names of every Redis key a queue uses, in one place.

Session 4's keys, with one change and a few additions (marked +)::

    {q}:pending               LIST   task ids waiting (LPUSH in, BLMOVE out at the right: FIFO)
  + {q}:processing:{worker}   LIST   the ids ONE worker has claimed (was: one shared list)
  + {q}:worker:{worker}       STRING that worker's heartbeat; expires unless refreshed
  + {q}:workers               ZSET   worker id -> last time it was seen (the registry)
  + {q}:delayed               ZSET   task id -> time its retry is due
    {q}:completed             LIST   ids of completed tasks
  + {q}:dlq                   LIST   ids of dead-lettered tasks, newest first (was: {q}:failed)
    {q}:task:{id}             HASH   the task: data, status, attempts, timestamps, error history
    {q}:result:{id}           HASH   a completed task's result, one field per key (JSON values)
  + {q}:tasks                 SET    every task id the queue holds: the "enqueued" count
  + {q}:events                STREAM what happened, in order (capped)

Why a processing list per worker: the claim (``BLMOVE pending ->
processing:{worker}``) then records *who* has the task in the same atomic step,
so "the tasks of a dead worker" is exactly one list, and "may this worker still
complete this task?" is one ``LREM`` on its own list.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    def delayed(self) -> str:
        return f"{self.name}:delayed"

    @property
    def completed(self) -> str:
        return f"{self.name}:completed"

    @property
    def dlq(self) -> str:
        return f"{self.name}:dlq"

    @property
    def tasks(self) -> str:
        return f"{self.name}:tasks"

    @property
    def workers(self) -> str:
        return f"{self.name}:workers"

    @property
    def events(self) -> str:
        return f"{self.name}:events"

    def processing(self, worker_id: str) -> str:
        return f"{self.name}:processing:{worker_id}"

    def heartbeat(self, worker_id: str) -> str:
        return f"{self.name}:worker:{worker_id}"

    def task(self, task_id: str) -> str:
        return f"{self.name}:task:{task_id}"

    def result(self, task_id: str) -> str:
        return f"{self.name}:result:{task_id}"

    @property
    def processing_pattern(self) -> str:
        """SCAN pattern of every worker's processing list."""
        return f"{self.name}:processing:*"

    def worker_of(self, processing_key: str) -> str:
        """The worker id in a processing list's key name."""
        return processing_key.removeprefix(f"{self.name}:processing:")

    def fixed(self) -> list[str]:
        """The keys whose names do not depend on a worker or a task."""
        return [self.pending, self.delayed, self.completed, self.dlq, self.tasks,
                self.workers, self.events]

    def patterns(self) -> list[str]:
        """SCAN patterns of the per-worker and per-task keys (for ``clear``)."""
        return [f"{self.name}:{kind}:*" for kind in ("processing", "worker", "task", "result")]
