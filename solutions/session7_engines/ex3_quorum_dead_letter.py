"""Exercise 3 (solution): a poison task reaches the dead-letter exchange after N deliveries.

A quorum queue's ``x-delivery-limit`` counts *returns*: the message is dead-lettered
when it comes back for the (limit + 1)-th time, so N deliveries need a limit of N - 1.
The dead-letter exchange routes with ``x-dead-letter-routing-key``; a direct exchange
with a binding for that key delivers it to the dead queue.
"""

from __future__ import annotations

from typing import Any


def queue_arguments(max_deliveries: int, dead_letter_exchange: str,
                    routing_key: str) -> dict[str, Any]:
    if max_deliveries < 1:
        raise ValueError(f"max_deliveries must be at least 1, got {max_deliveries}")
    return {"x-queue-type": "quorum", "x-delivery-limit": max_deliveries - 1,
            "x-dead-letter-exchange": dead_letter_exchange,
            "x-dead-letter-routing-key": routing_key}


def declare(channel: Any, queue: str, max_deliveries: int) -> str:
    exchange, dead = f"{queue}.dlx", f"{queue}.dead"
    channel.exchange_declare(exchange, exchange_type="direct", durable=True)
    channel.queue_declare(dead, durable=True)
    channel.queue_bind(dead, exchange, routing_key=dead)
    channel.queue_declare(queue, durable=True,
                          arguments=queue_arguments(max_deliveries, exchange, dead))
    return dead


def delivery_number(headers: dict[str, Any] | None) -> int:
    return int((headers or {}).get("x-delivery-count", 0)) + 1
