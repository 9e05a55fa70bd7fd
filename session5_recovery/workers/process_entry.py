"""Run a worker in a child process: the function ``multiprocessing`` starts.

It lives in an importable module, never in ``__main__``, because with the
``spawn`` start method (the default on macOS and Windows) the child is a fresh
interpreter that imports the target function by its module name. The child
gets only plain values (strings, numbers, a dict of settings): it opens its own
Redis connection from the URL, since a connection cannot cross processes (a
single server, or any node of a Redis Cluster: cluster.py tells which).

    ctx = multiprocessing.get_context("spawn")
    ctx.Process(target=run_worker_process,
                args=("worker-1", url, "image_processing"),
                kwargs={"settings": {"heartbeat_interval": 0.2, "heartbeat_ttl": 1.0}}).start()
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from session2_pipeline.core import FilterFactory, default_pipeline

from .handlers import HandlerRegistry
from .redis_task_queue import RedisTaskQueue
from .redis_worker import RedisWorker
from .settings import RecoverySettings


def load_handlers(name: str) -> HandlerRegistry:
    """Call the function ``name`` (``"package.module:function"``) for a HandlerRegistry."""
    module_name, colon, function_name = name.partition(":")
    if not colon or not module_name or not function_name:
        raise ValueError(f"handlers must name a function as 'package.module:function', "
                         f"got {name!r}")
    registry = getattr(importlib.import_module(module_name), function_name)()
    if not isinstance(registry, HandlerRegistry):
        raise TypeError(f"{name}() must return a HandlerRegistry, got {type(registry).__name__}")
    return registry


def run_worker_process(
    worker_id: str,
    redis_url: str,
    queue_name: str,
    burst: bool = True,
    start_event: Any = None,
    filters: str | None = None,
    verbose: bool = False,
    *,
    settings: dict[str, Any] | None = None,
    allowed_dirs: list[str] | None = None,
    ready: Any = None,
    prefetch: int = 1,
    handlers: str | None = None,
) -> dict[str, Any]:
    """Connect to ``redis_url``, work on ``queue_name`` and return the worker's counts.

    The first arguments are session 4's. ``start_event`` (a ``multiprocessing``
    Event or Barrier) is waited on before the first claim, so a parent can start
    several workers at one moment; ``ready`` (an Event) is set once the worker is
    registered, so a parent can wait for its workers instead of sleeping.
    ``settings`` is ``RecoverySettings.to_dict()``, or part of it; ``prefetch``
    is how many tasks one claim may take. ``handlers`` names a function that
    returns the worker's ``HandlerRegistry``, as ``"package.module:function"``
    (a name, not the function: a child started with ``spawn`` imports it), for
    task types of your own; without it the worker runs ``default_handlers()``.
    """
    # A single server or a Redis Cluster, checked now (one message if it is down).
    queue = RedisTaskQueue.connect(redis_url, queue_name=queue_name,
                                   settings=RecoverySettings.from_dict(settings or {}))
    try:
        pipeline = FilterFactory.pipeline(filters) if filters else default_pipeline()
        log = (lambda line: print(line, flush=True)) if verbose else None
        worker = RedisWorker(worker_id, queue, pipeline=pipeline, allowed_dirs=allowed_dirs, log=log,
                             prefetch=prefetch, kill_children=True,
                             handlers=load_handlers(handlers) if handlers else None)

        def registered() -> None:
            if ready is not None:
                ready.set()
            if start_event is not None:
                start_event.wait()

        counts = worker.start(burst=burst, on_registered=registered)
        return {"worker_id": worker_id, **counts.as_dict()}
    finally:
        queue.close()
        sys.stdout.flush()
