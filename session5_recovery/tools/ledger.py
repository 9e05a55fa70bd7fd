"""Runs per task against the faults that hit it: "nothing runs twice without a fault", checked.

A completion count cannot see a task that ran twice: the second completion is
refused, or the first was never sent. The run ledger can
(``RecoverySettings.run_ledger``: the worker adds one per task id as each run
starts). This module reads it next to the event stream and says, per task, how
many runs the faults allow:

- one run for every task;
- one more per failed attempt that was retried (``retry_scheduled``): a planned run;
- one more per time the task was handed back unfinished (``requeued``, except
  "retry due" and "run_at due", which are the delayed set releasing it): its worker
  was killed, frozen past its TTL, or told twice to stop. These are the faults.

A task that ran more often than that ran twice without a reason: a bug.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..workers import RedisTaskQueue

RETRY_DUE = "retry due"  # the reason of the "requeued" event a due retry writes
RUN_AT_DUE = "run_at due"  # ... and a task added with run_at/delay, when its time comes


@dataclass(frozen=True)
class RunReport:
    """What the ledger says about a set of tasks."""

    tasks: int  # tasks looked at
    runs: int  # runs the ledger counted, all tasks together
    faults: int  # hand-backs of a started or claimed task (kills, TTL expiries, second signals)
    retries: int  # failed attempts scheduled for another run
    never_ran: list[str] = field(default_factory=list)
    over: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (runs, allowed)

    @property
    def holds(self) -> bool:
        """No task ran more often than its faults and retries allow."""
        return not self.over

    def as_dict(self) -> dict[str, int]:
        return {"tasks": self.tasks, "runs": self.runs, "faults": self.faults,
                "retries": self.retries, "over_the_fault_model": len(self.over)}

    def __str__(self) -> str:
        verdict = "holds" if self.holds else f"BROKEN for {len(self.over)} task(s): {self.over}"
        return (f"{self.tasks} tasks, {self.runs} runs, {self.faults} faults, "
                f"{self.retries} retries: the fault model {verdict}")


def run_report(queue: RedisTaskQueue, ids: list[str] | None = None) -> RunReport:
    """Compare ``queue.run_counts()`` with the faults in the event stream.

    ``ids``: the tasks to look at (default: every task the ledger saw). The event
    stream must still hold the tasks' events (it keeps ``events_maxlen``).
    """
    runs = queue.run_counts()
    faults: Counter[str] = Counter()
    retries: Counter[str] = Counter()
    for event in queue.events(None):
        if event.name == "retry_scheduled":
            retries[event.task_id] += 1
        elif event.name == "requeued" and event.fields.get("reason") not in (RETRY_DUE,
                                                                             RUN_AT_DUE):
            faults[event.task_id] += 1
    wanted = list(runs) if ids is None else ids
    over = {}
    for task_id in wanted:
        allowed = 1 + faults[task_id] + retries[task_id]
        if runs.get(task_id, 0) > allowed:
            over[task_id] = (runs[task_id], allowed)
    return RunReport(tasks=len(wanted), runs=sum(runs.get(i, 0) for i in wanted),
                     faults=sum(faults[i] for i in wanted),
                     retries=sum(retries[i] for i in wanted),
                     never_ran=[i for i in wanted if i not in runs], over=over)
