"""Session 8: tasks that wait for a time, or for each other.

Built on session 5's queue (imported, never copied):

- delayed tasks: ``add_task(data, run_at=...)`` / ``delay=``, session 5's own (its
  delayed set, where retries wait), used as they are;
- schedules: ``Schedule`` (cron via croniter, or an interval; a misfire policy)
  and ``Scheduler``, one leader at a time through a fenced lease, every firing
  enqueued under an id made of the schedule's name and due time (scheduler.py);
- workflows: ``chain``, ``group``, ``chord`` (workflows.py), run by the engine
  (engine.py): the last parent's result and the staging of what waited for it
  are one atomic step, so a chord's callback is enqueued exactly once;
- progress: ``context.progress(done, total, message)`` in a handler (handlers.py).

``python -m session8_workflows scheduler | show ID | worker`` (cli.py).
"""

# Session 2's filters register themselves when their package is imported.
import session2_pipeline as _filters  # noqa: F401

from .engine import Workflows, WorkflowView
from .handlers import ProgressContext, demo_handlers, workflow_handlers
from .scheduler import LeaderLease, Scheduler
from .schedules import Schedule, ScheduleError, plan_firings
from .worker import WorkflowFleet, make_worker, run_workflow_worker
from .workflow_queue import WorkflowQueue
from .workflows import Chain, Chord, Group, WorkflowError, chain, chord, compile_workflow, group

__all__ = [
    "Chain",
    "Chord",
    "Group",
    "LeaderLease",
    "ProgressContext",
    "Schedule",
    "ScheduleError",
    "Scheduler",
    "WorkflowError",
    "WorkflowFleet",
    "WorkflowQueue",
    "WorkflowView",
    "Workflows",
    "chain",
    "chord",
    "compile_workflow",
    "demo_handlers",
    "group",
    "make_worker",
    "plan_firings",
    "run_workflow_worker",
    "workflow_handlers",
]
