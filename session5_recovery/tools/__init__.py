"""The tools around session 5's queue: they use the queue, the queue never uses them.

The queue itself lives in ``workers/``; this folder holds what a person (or a
demo, or a test) drives it with:

- cli.py: the command line, ``python -m session5_recovery.workers <command>``
  (worker, enqueue, stats, monitor, dlq, reap, events);
- monitor.py: the live view (counts, workers, heartbeats, events), which also
  runs the reaper;
- timeline.py: the event stream as readable lines (the monitor, the demos and
  the ``events`` command all print it this way);
- ledger.py: ``run_report``, runs per task (from the run ledger) against the
  faults and retries that hit each task: "nothing ran twice without a reason";
- fleet.py: ``WorkerFleet``, a small process supervisor that starts, kills and
  replaces worker processes for the demos and the tests.

Every import points from here into ``workers/`` (and ``core/``), never back:
a worker runs without any of these files.
"""

from .fleet import WorkerFleet
from .ledger import RunReport, run_report
from .timeline import describe, format_timeline

__all__ = ["RunReport", "WorkerFleet", "describe", "format_timeline", "run_report"]
