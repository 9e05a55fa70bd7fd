"""Mistake: the dead queue is never bound to the exchange, which drops what it cannot route.

Rejected by:
    test_ex3_quorum_dead_letter.py::TestPart2_declare::test_a_worker_killed_every_time_sends_the_task_to_the_dead_queue
    test_ex3_quorum_dead_letter.py::TestPart2_declare::test_a_permanent_failure_goes_straight_to_the_dead_queue
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
    channel.queue_declare(queue, durable=True,
                          arguments=queue_arguments(max_deliveries, exchange, dead))
    return dead


def delivery_number(headers: dict[str, Any] | None) -> int:
    return int((headers or {}).get("x-delivery-count", 0)) + 1
