"""Session 3: several workers on one queue, and what the GIL allows.

A pool of worker threads shares the in-memory ``TaskQueue`` of session 1 and runs the
filter pipeline of session 2. Then we measure honestly: the same work run
sequentially, with threads and with processes, for three kinds of work (pure-Python
CPU, Pillow filters, waiting on I/O). Threads help when the work releases the GIL
(Pillow's C filters, I/O waits) and not when it is pure Python; processes help with
CPU work but pay to start and to send arguments.

Also here: a race condition made visible (a shared counter that loses updates) and
fixed with a ``Lock``.

The queue is session 1's (``session1_basics``) and the pipeline session 2's
(``session2_pipeline``): this session imports them and adds only what is new.
"""

from session1_basics.task import Task, TaskStatus
from session1_basics.task_queue import TaskQueue

from .workers import Worker, WorkerCounts, WorkerPool

__all__ = ["Task", "TaskQueue", "TaskStatus", "Worker", "WorkerPool", "WorkerCounts"]
