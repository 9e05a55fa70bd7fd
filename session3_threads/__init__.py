"""Session 3: several workers on one queue, and what the GIL allows.

A pool of worker threads shares the in-memory ``TaskQueue`` of session 1 and runs the
filter pipeline of session 2. Then we measure honestly: the same work run
sequentially, with threads and with processes, for three kinds of work (pure-Python
CPU, Pillow filters, waiting on I/O). Threads help when the work releases the GIL
(Pillow's C filters, I/O waits) and not when it is pure Python; processes help with
CPU work but pay to start and to send arguments.

Also here: a race condition made visible (a shared counter that loses updates) and
fixed with a ``Lock``.

``task.py``, ``task_queue.py``, ``filters/`` and ``core/`` are byte-for-byte copies of
sessions 1 and 2, so this session is self-contained.
"""

# The built-in filters add themselves to core's registry when imported (core never
# imports filters), so every use of this session finds them.
from . import filters as _filters  # noqa: F401
from .task import Task, TaskStatus
from .task_queue import TaskQueue
from .workers import Worker, WorkerCounts, WorkerPool

__all__ = ["Task", "TaskQueue", "TaskStatus", "Worker", "WorkerPool", "WorkerCounts"]
