"""Mistake: x-delivery-limit set to N, but the limit counts returns: N + 1 deliveries.

Rejected by:
    test_ex3_quorum_dead_letter.py::TestPart1_queue_arguments::test_a_poison_message_is_delivered_exactly_n_times_then_dead_lettered
    test_ex3_quorum_dead_letter.py::TestPart2_declare::test_a_worker_killed_every_time_sends_the_task_to_the_dead_queue
"""

from __future__ import annotations

from typing import Any


def queue_arguments(max_deliveries: int, dead_letter_exchange: str,
                    routing_key: str) -> dict[str, Any]:
    if max_deliveries < 1:
        raise ValueError(f"max_deliveries must be at least 1, got {max_deliveries}")
    return {"x-queue-type": "quorum", "x-delivery-limit": max_deliveries,
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
