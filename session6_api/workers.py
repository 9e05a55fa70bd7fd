"""``python -m session6_api.workers``: session 5's queue commands, on this session's queue.

The queue and its command line are session 5's (``session5_recovery.tools.cli``);
this entry script only gives them session 6's name and defaults: the queue from
``QUEUE_NAME`` (as ``serve`` uses it), the Redis from ``--redis-url`` or
``REDIS_URL``, and sample images under ``output/session6/``. ``serve`` already
runs the workers; ``worker`` here adds one more.
"""

from __future__ import annotations

from collections.abc import Sequence

from session5_recovery.tools.cli import Program, main

from .config import ApiConfig


def program(config: ApiConfig | None = None) -> Program:
    """Session 6's name and defaults for session 5's command line."""
    config = config or ApiConfig.from_env()
    return Program(
        name="python -m session6_api.workers",
        description="Session 6's task queue (session 5's commands): enqueue, stats, dlq, "
                    "events, monitor. `python -m session6_api serve` already runs the "
                    "workers; `worker` starts one more.",
        queue=config.queue_name,
        samples_dir=config.samples_dir,
        output_dir=config.results_dir,
        worker_note="python -m session6_api serve already runs workers; this adds one")


def run(argv: Sequence[str] | None = None) -> int:
    return main(argv, program())


if __name__ == "__main__":
    raise SystemExit(run())
