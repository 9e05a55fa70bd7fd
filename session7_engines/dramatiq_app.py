"""Dramatiq on Redis or RabbitMQ: the broker and the actor the ``dramatiq`` command imports.

Started by the harness as::

    dramatiq session7_engines.dramatiq_app --processes 2 --threads 1 --queues <queue>

with ``S7_REDIS_URL``, ``S7_NAMESPACE``, ``S7_QUEUE`` and ``S7_PROFILE`` in the
environment, and ``S7_BROKER=rabbitmq`` (with ``S7_AMQP_URL``) for RabbitMQ. Where
Dramatiq keeps each behaviour on Redis (files in the dramatiq package):

- claim and ack: ``brokers/redis/dispatch.lua`` moves up to ``prefetch`` message
  ids per fetch into a per-process ack set ``{ns}:__acks__.<broker id>.<queue>``;
- heartbeat and reaper: every command stamps ``{ns}:__heartbeats__``; with a chance
  of ``maintenance_chance`` in a million, a command re-queues the acks of every
  process silent for ``heartbeat_timeout`` ms (default 60000);
- retries: ``middleware/retries.py`` (``max_retries`` 20, backoff from 15 s by
  default, with jitter); a message past its retries is nacked into ``{queue}.XQ``,
  the dead-letter queue, kept for ``dead_message_ttl`` (7 days);
- time limit: ``middleware/time_limit.py`` (600000 ms by default);
- prefetch: ``dramatiq_queue_prefetch`` (default 2 x threads) in ``worker.py``.

On RabbitMQ (``brokers/rabbitmq.py``) the broker does the claim, the lease and the
redelivery: an unacked message returns when its consumer's connection closes. The
queues here are quorum queues (``QuorumRabbitmqBroker``), so a message that keeps
killing its worker is counted and dead-lettered (see ``rabbitmq.py``).
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import xq_name

from . import settings
from .rabbitmq import amqp_url, quorum_arguments
from .work import ENV_NAMESPACE, ENV_REDIS_URL, perform

ACTOR_NAME = "s7_image_task"


class QuorumRabbitmqBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker with quorum queues and a dead-letter exchange of our own.

    Dramatiq declares its queues classic, dead-lettering into ``{queue}.XQ`` through
    the default exchange. Here the queue and its delay queue are quorum queues that
    dead-letter a message after ``max_deliveries`` deliveries to the direct exchange
    ``{namespace}.dlx``, which routes it to the same ``{queue}.XQ``: where Dramatiq
    already puts a message past its retries (a ``nack`` without requeue).
    """

    def __init__(self, *, namespace: str, max_deliveries: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dead_letter_exchange = f"{namespace}.dlx"
        self.max_deliveries = max_deliveries

    def _build_queue_arguments(self, queue_name: str) -> dict:
        return quorum_arguments(self.max_deliveries, self.dead_letter_exchange,
                                xq_name(queue_name))

    def _declare_xq_queue(self, queue_name: str):
        declared = super()._declare_xq_queue(queue_name)
        self.channel.exchange_declare(self.dead_letter_exchange, exchange_type="direct",
                                      durable=True)
        self.channel.queue_bind(xq_name(queue_name), self.dead_letter_exchange,
                                xq_name(queue_name))
        return declared


def make_broker(url: str, namespace: str, profile: str,
                broker: str = "redis") -> RedisBroker | RabbitmqBroker:
    """A Redis broker under its own key namespace (``{namespace}:dramatiq:*``), or, with
    ``broker="rabbitmq"``, quorum queues whose names start with the namespace."""
    if broker == "rabbitmq":
        return QuorumRabbitmqBroker(url=amqp_url(), namespace=namespace,
                                    max_deliveries=settings.MAX_RETRIES)
    options = {}
    if profile == "recommended":
        # Notice a dead process after 3 s instead of 60 s, and look often.
        options = {"heartbeat_timeout": int(settings.DEAD_WORKER_TIMEOUT_S * 1000),
                   "maintenance_chance": 100_000}
    return RedisBroker(url=url, namespace=f"{namespace}:dramatiq", **options)


def actor_options(profile: str) -> dict:
    """The reliability options of the actor under each profile."""
    if profile == "defaults":
        return {}
    return {"max_retries": settings.MAX_RETRIES,
            "min_backoff": int(settings.MIN_BACKOFF_S * 1000),
            "max_backoff": int(settings.MAX_BACKOFF_S * 1000),
            "time_limit": settings.TIME_LIMIT_S * 1000}


_PROFILE = settings.profile()
broker = make_broker(os.environ.get(ENV_REDIS_URL, "redis://127.0.0.1:6379/0"),
                     os.environ.get(ENV_NAMESPACE, "s7"), _PROFILE, settings.broker())
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name=ACTOR_NAME, queue_name=settings.queue(), **actor_options(_PROFILE))
def image_task(task_id: str, data: dict) -> None:
    """Dramatiq retries any exception, with backoff, up to ``max_retries``.

    Returns nothing: without the Results middleware Dramatiq keeps no result, and a
    returned value only earns a WARNING per task. The ledger records the run.
    """
    perform(task_id, data)
