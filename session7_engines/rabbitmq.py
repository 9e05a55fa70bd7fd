"""RabbitMQ quorum queues: what session 5 wrote by hand, as broker configuration.

A quorum queue (``x-queue-type: quorum``, RabbitMQ 3.8+) replicates each message
through Raft and keeps, per message, how many times it was handed back unacked:
by a consumer's ``nack``/``reject`` with requeue, or because its channel closed
(a worker killed with ``kill -9`` closes its TCP connection, and the broker
requeues what that connection held: no heartbeat, no reaper, no timeout to wait
for). ``x-delivery-limit`` caps that count; a message over it goes to the queue's
dead-letter exchange (``x-dead-letter-exchange``), which routes it to a queue of
our choice: session 5's attempts, reaper and DLQ in three arguments.

The limit counts *returns*, not deliveries: a message is dead-lettered when it is
returned for the (limit + 1)-th time, so a task that kills its worker every time
runs ``limit + 1`` times. ``max_deliveries`` below is the number people mean.

Dramatiq's RabbitmqBroker and Celery's AMQP transport (kombu with py-amqp) use
these arguments in ``dramatiq_app.py`` and ``celery_app.py``. Each run declares
queues and one exchange of its own, named after its namespace, and deletes them.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

ENV_AMQP_URL = "S7_AMQP_URL"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
HOW_TO_START = ("RabbitMQ is not running at {url}: start it with `docker compose up -d rabbitmq` "
                "(or `sudo apt-get install rabbitmq-server`, then `sudo rabbitmq-server -detached`)")


def amqp_url() -> str:
    return os.environ.get(ENV_AMQP_URL, DEFAULT_AMQP_URL)


def quorum_arguments(max_deliveries: int, dead_letter_exchange: str,
                     dead_letter_routing_key: str) -> dict[str, Any]:
    """A quorum queue whose message is dead-lettered after ``max_deliveries`` deliveries."""
    if max_deliveries < 1:
        raise ValueError(f"max_deliveries must be at least 1, got {max_deliveries}")
    return {"x-queue-type": "quorum",
            "x-delivery-limit": max_deliveries - 1,  # returns allowed; one more dead-letters
            "x-dead-letter-exchange": dead_letter_exchange,
            "x-dead-letter-routing-key": dead_letter_routing_key}


def unavailable(url: str | None = None) -> str | None:
    """None if RabbitMQ answers at ``url``; else the one line that says how to start it."""
    import pika

    url = url or amqp_url()
    params = pika.URLParameters(url)
    params.connection_attempts, params.socket_timeout = 1, 3
    try:
        pika.BlockingConnection(params).close()
    except Exception:  # noqa: BLE001 - any failure to connect means "not running here"
        return HOW_TO_START.format(url=url)
    return None


class Admin:
    """A connection to declare, read and delete the queues and exchanges of one run."""

    def __init__(self, url: str | None = None) -> None:
        import pika

        params = pika.URLParameters(url or amqp_url())
        # The harness may leave this connection idle for minutes between two calls, and a
        # blocking connection answers heartbeats only during calls: none are negotiated.
        params.heartbeat = 0
        self.connection = pika.BlockingConnection(params)
        self.channel = self.connection.channel()

    def dead_letter_exchange(self, exchange: str, queue: str, routing_key: str) -> None:
        """A direct exchange and the queue it routes ``routing_key`` to (the DLQ)."""
        self.channel.exchange_declare(exchange, exchange_type="direct", durable=True)
        self.channel.queue_declare(queue, durable=True)
        self.channel.queue_bind(queue, exchange, routing_key)

    def take_task_ids(self, queue: str) -> list[str]:
        """Consume every message in ``queue`` and return their task ids (our first argument).

        Dramatiq's body is ``{"args": [task_id, data], ...}``; Celery's (protocol 2)
        is ``[[task_id, data], {}, {...}]``.
        """
        ids = []
        while True:
            method, _props, body = self.channel.basic_get(queue, auto_ack=True)
            if method is None:
                return ids
            decoded = json.loads(body)
            args = decoded["args"] if isinstance(decoded, dict) else decoded[0]
            ids.append(args[0])

    def delete(self, queues: list[str], exchanges: list[str]) -> None:
        for queue in queues:
            self.channel.queue_delete(queue)
        for exchange in exchanges:
            self.channel.exchange_delete(exchange)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.close()
