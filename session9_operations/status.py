"""What the operations page shows, in one answer: ``GET /operations/status``.

- the alert conditions one look can tell (alerting.py), each with its value and threshold;
- every rate limit and how much of its window is used now;
- webhook deliveries: delivered (counted by the workers as they finish them), waiting
  for a retry and dead-lettered (read from the queue's delayed set and DLQ now), and
  the notifications owed (outbox.py).

Everything is read from Redis on each call, so every API process shows the same.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from session5_recovery.workers import RedisTaskQueue

from .alerting import conditions_now
from .outbox import outbox_key
from .ratelimit import RateLimiter, starts_key
from .webhooks import DELIVERY_ID_PREFIX, delivered_count

SCAN_COUNT = 500  # ids per round trip when looking for deliveries in the delayed set


def rate_limit_use(queue: RedisTaskQueue, now: float) -> list[dict[str, Any]]:
    """Each limited task type: its limit, its window and the starts inside the window now."""
    found = []
    for task_type, rate in sorted(RateLimiter(queue).limits().items()):
        used = queue.client.zcount(starts_key(queue.keys, task_type), f"({now - rate.per!r}", "+inf")
        found.append({"task_type": task_type, "limit": rate.limit, "per": rate.per,
                      "used": int(used)})
    return found


def webhook_deliveries(queue: RedisTaskQueue) -> dict[str, int]:
    """Deliveries delivered (ever), waiting for a retry and dead-lettered (now), and owed."""
    match = DELIVERY_ID_PREFIX + "*"
    retrying = sum(1 for _ in queue.client.zscan_iter(queue.keys.delayed, match=match,
                                                      count=SCAN_COUNT))
    dead = sum(1 for task_id in queue.dlq_ids() if str(task_id).startswith(DELIVERY_ID_PREFIX))
    return {"delivered": delivered_count(queue), "retrying": retrying, "dead_lettered": dead,
            "owed": int(queue.client.hlen(outbox_key(queue.keys)))}


def operations_status(queue: RedisTaskQueue, now: float) -> dict[str, Any]:
    return {"at": now,
            "alerts": [asdict(condition) for condition in conditions_now(queue)],
            "rate_limits": rate_limit_use(queue, now),
            "webhooks": webhook_deliveries(queue)}
