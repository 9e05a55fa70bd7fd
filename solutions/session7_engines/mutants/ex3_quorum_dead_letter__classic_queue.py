"""Mistake: no x-queue-type, so a classic queue, which counts no deliveries at all.

(RabbitMQ 3.x refuses x-delivery-limit on a classic queue; on versions that accept
the declaration the poison message would loop for ever.)

Rejected by:
    test_ex3_quorum_dead_letter.py::TestPart1_queue_arguments::test_the_queue_is_a_quorum_queue
    test_ex3_quorum_dead_letter.py::TestPart1_queue_arguments::test_a_poison_message_is_delivered_exactly_n_times_then_dead_lettered
    test_ex3_quorum_dead_letter.py::TestPart2_declare::test_a_worker_killed_every_time_sends_the_task_to_the_dead_queue
"""

from __future__ import annotations

from typing import Any


def queue_arguments(max_deliveries: int, dead_letter_exchange: str,
                    routing_key: str) -> dict[str, Any]:
    if max_deliveries < 1:
        raise ValueError(f"max_deliveries must be at least 1, got {max_deliveries}")
    return {"x-delivery-limit": max_deliveries - 1,
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
