"""Run a worker in a child process: the function ``multiprocessing`` starts.

It lives in an importable module, never in ``__main__``, because with the
``spawn`` start method (the default on macOS and Windows) the child is a fresh
interpreter that imports the target function by its module name. The child
gets only plain, picklable values (strings, a bool, an Event): it opens its
own Redis connection from the URL, since a connection cannot be shared across
processes.

    ctx = multiprocessing.get_context("spawn")
    ctx.Process(target=run_worker_process, args=("worker-1", url, "image_processing")).start()
"""

from __future__ import annotations

from typing import Any

from session2_pipeline.core import FilterFactory, default_pipeline

from .redis_task_queue import RedisTaskQueue
from .redis_worker import RedisWorker


def run_worker_process(
    worker_id: str,
    redis_url: str,
    queue_name: str,
    burst: bool = True,
    start_event: Any = None,
    filters: str | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """Connect to ``redis_url``, process ``queue_name`` and return the worker's counts.

    ``start_event`` lets a parent start several workers at the same moment,
    after they have all connected and imported everything: anything with a
    ``wait()`` method, such as a ``multiprocessing.Event`` the parent sets, or a
    ``Barrier(n + 1)`` the parent waits on too (then it also knows they are
    ready, and can start its clock when the barrier opens). ``filters`` is
    the worker's default pipeline as a spec string (else the default pipeline).
    The counts come back as a dict for ``Pool``/``ProcessPoolExecutor`` callers;
    the tasks themselves record which worker did them.
    """
    queue = RedisTaskQueue(url=redis_url, queue_name=queue_name)
    try:
        queue.check_connection()
        pipeline = FilterFactory.pipeline(filters) if filters else default_pipeline()
        worker = RedisWorker(worker_id, pipeline, queue, log=print if verbose else None)
        if start_event is not None:
            start_event.wait()
        counts = worker.start(burst=burst)
        return {"worker_id": worker_id, **counts.as_dict()}
    finally:
        queue.close()
