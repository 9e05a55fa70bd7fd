"""Dramatiq with its defaults, for ``make bench``: a no-op actor, started by Dramatiq's own command.

    dramatiq workshop.bench_dramatiq --processes 4

Nothing is tuned: the broker's default middleware, heartbeat and maintenance; the
worker's default 8 threads per process and prefetch (2 x threads). Only the keys
are ours: the broker's namespace and the queue come from the environment, so a
bench run on a shared Redis touches nothing else.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

ENV_REDIS_URL = "BENCH_DRAMATIQ_REDIS_URL"
ENV_NAMESPACE = "BENCH_DRAMATIQ_NAMESPACE"
ENV_QUEUE = "BENCH_DRAMATIQ_QUEUE"
ACTOR_NAME = "bench_noop"

broker = RedisBroker(url=os.environ.get(ENV_REDIS_URL, "redis://127.0.0.1:6379/0"),
                     namespace=os.environ.get(ENV_NAMESPACE, "bench-dramatiq"))
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name=ACTOR_NAME, queue_name=os.environ.get(ENV_QUEUE, "bench"))
def noop() -> None:
    """Nothing: what is left to time is the engine."""
