"""The names of every Redis key a queue uses, in one place.

Every key of the queue ``q`` starts with the *hash tag* ``{q}`` (real braces:
``{image_processing}:pending``). Redis Cluster places a key by the part between
the first braces only, so all of a queue's keys share one slot and one script
may touch them together. On a single server the braces are just characters.

Session 4's keys, with one change and a few additions (marked +)::

    {q}:pending               LIST   task ids waiting, normal priority (LPUSH in, taken at the right)
  + {q}:pending:high          LIST   the same, high priority (claimed first)
  + {q}:pending:low           LIST   the same, low priority (claimed last)
  + {q}:wake                  LIST   wake-up tokens an idle worker blocks on (BLPOP)
  + {q}:paused                STRING exists while the queue is paused
  + {q}:processing:{worker}   LIST   the ids ONE worker has claimed (was: one shared list)
  + {q}:worker:{worker}       STRING that worker's heartbeat; expires unless refreshed
  + {q}:workers               ZSET   worker id -> last time it was seen (the registry)
  + {q}:delayed               ZSET   task id -> time it is due (a retry, or a delayed task)
    {q}:completed             LIST   ids of completed tasks
  + {q}:dlq                   LIST   ids of dead-lettered tasks, newest first (was: {q}:failed)
  + {q}:cancelled             LIST   ids of cancelled tasks
    {q}:task:{id}             HASH   the task: data, status, attempts, timestamps, error
                                     history, and its result as one JSON field
  + {q}:tasks                 SET    every task id the queue holds: the "enqueued" count
  + {q}:events                STREAM what happened, in order (capped)
  + {q}:expired               STRING how many finished tasks retention has deleted

Why a processing list per worker: the claim moves the id into the claiming
worker's own list in the same atomic step that records the claim, so "the
tasks of a dead worker" is exactly one list, and "may this worker still
complete this task?" is answered by its own list alone: the completion's ``LREM``
removes the id from that list, and records nothing if it was not there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PRIORITIES = ("high", "normal", "low")  # claimed in this order; FIFO within each

# One rule for every name that becomes part of a key: a queue name, a worker id, a task
# id. Text that a key, a URL, a log line and a SCAN pattern all carry unchanged (no
# spaces, no glob characters, no braces that would move the hash tag); queue.lua's
# plausible_id() applies the same rule to what it finds in a list.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.:@-]{1,200}")
NAME_RULE = "1-200 letters, digits or - _ . : @"


def check_name(kind: str, value: object, example: str) -> str:
    """``value`` if it follows the rule for names; else ValueError, one line saying how to fix it.

    Called at every door (the command line, ``RedisWorker``, the queue) before
    anything is written, so a bad name is refused before it is registered anywhere.
    """
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ValueError(f"{kind} must be {NAME_RULE} (e.g. {example!r}), got {value!r}")
    return value


@dataclass(frozen=True)
class QueueKeys:
    """Key names for the queue called ``name`` (``QueueKeys("image_processing").pending``)."""

    name: str

    def __post_init__(self) -> None:
        check_name("queue name", self.name, "image_processing")

    @property
    def prefix(self) -> str:
        """``{q}:``, what every key of this queue starts with (the braces are the hash tag)."""
        return f"{{{self.name}}}:"

    @property
    def pending(self) -> str:
        return f"{self.prefix}pending"

    @property
    def pending_high(self) -> str:
        return f"{self.prefix}pending:high"

    @property
    def pending_low(self) -> str:
        return f"{self.prefix}pending:low"

    def pending_list(self, priority: str) -> str:
        """The pending list of one priority ("high", "normal" or "low")."""
        return {"high": self.pending_high, "normal": self.pending, "low": self.pending_low}[priority]

    @property
    def wake(self) -> str:
        return f"{self.prefix}wake"

    @property
    def paused(self) -> str:
        return f"{self.prefix}paused"

    @property
    def delayed(self) -> str:
        return f"{self.prefix}delayed"

    @property
    def completed(self) -> str:
        return f"{self.prefix}completed"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}dlq"

    @property
    def cancelled(self) -> str:
        return f"{self.prefix}cancelled"

    @property
    def tasks(self) -> str:
        return f"{self.prefix}tasks"

    @property
    def workers(self) -> str:
        return f"{self.prefix}workers"

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    def processing(self, worker_id: str) -> str:
        return f"{self.prefix}processing:{worker_id}"

    def heartbeat(self, worker_id: str) -> str:
        return f"{self.prefix}worker:{worker_id}"

    def task(self, task_id: str) -> str:
        return f"{self.prefix}task:{task_id}"

    @property
    def processing_pattern(self) -> str:
        """SCAN pattern of every worker's processing list (``{`` is not special in a pattern)."""
        return f"{self.prefix}processing:*"

    def worker_of(self, processing_key: str) -> str:
        """The worker id in a processing list's key name."""
        return processing_key.removeprefix(f"{self.prefix}processing:")

    # Keys that guard against faults of the server and of identity (epoch.py, instance.py).

    @property
    def epoch(self) -> str:
        """STRING: a random id written when the queue is first used; gone = the data was lost."""
        return f"{self.prefix}epoch"

    @property
    def data_lost(self) -> str:
        """HASH: written when a worker or the monitor found the epoch gone (what, when)."""
        return f"{self.prefix}data_lost"

    def instance(self, worker_id: str) -> str:
        """STRING: the token of the one live process using ``worker_id`` (expires like a heartbeat)."""
        return f"{self.prefix}instance:{worker_id}"

    @property
    def expired(self) -> str:
        """STRING: how many finished tasks retention has deleted (result_ttl, failure_ttl)."""
        return f"{self.prefix}expired"

    @property
    def runs(self) -> str:
        """HASH "<task id> <run id>" -> worker, one field per run started (``settings.run_ledger``).

        An instrument for tests and benchmarks ("how many times did each task run?");
        the queue itself never reads it.
        """
        return f"{self.prefix}runs"

    def fixed(self) -> list[str]:
        """The keys whose names do not depend on a worker or a task."""
        return [self.pending_high, self.pending, self.pending_low, self.wake, self.paused,
                self.delayed, self.completed, self.dlq, self.cancelled, self.tasks,
                self.workers, self.events, self.expired, self.epoch, self.data_lost, self.runs]

    def patterns(self) -> list[str]:
        """SCAN patterns of the per-worker and per-task keys (for ``clear``)."""
        return [f"{self.prefix}{kind}:*" for kind in ("processing", "worker", "task", "instance")]
