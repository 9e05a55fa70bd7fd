"""The series the alerting rules read that session 6's ``/metrics`` does not have yet.

Read at scrape time from Redis (like session 6's task counts, they cannot drift):

- ``workshop_oldest_pending_age_seconds``: how long the oldest pending task has waited;
- ``workshop_workers_alive``: registered workers whose heartbeat has not expired;

and counted from the event stream by session 6's event follower (``observe`` is
chained onto its ``on_event``):

- ``workshop_workers_lost_total``: workers the reaper declared dead;
- ``workshop_webhook_attempts_total{outcome}``: webhook delivery attempts, delivered
  or failed (a delivery is a task whose id starts with ``whk-``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from session5_recovery.workers import Event, RedisTaskQueue

from .autoscale import read_signals
from .webhooks import DELIVERY_ID_PREFIX


class OperationsCollector(Collector):
    def __init__(self, queue: RedisTaskQueue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[GaugeMetricFamily]:
        age = GaugeMetricFamily("workshop_oldest_pending_age_seconds",
                                "Seconds the oldest pending task has waited (0: none pending)")
        alive = GaugeMetricFamily("workshop_workers_alive", "Workers with a live heartbeat")
        try:
            signals, _ = read_signals(self.queue, time.time())
        except Exception:  # Redis down: no sample rather than a failed scrape
            return
        age.add_metric([], signals.oldest_age)
        alive.add_metric([], float(signals.workers))
        yield from (age, alive)


class OperationsMetrics:
    """The operations series, registered on an existing registry (session 6's)."""

    def __init__(self, queue: RedisTaskQueue, registry: CollectorRegistry) -> None:
        registry.register(OperationsCollector(queue))
        self.workers_lost = Counter("workshop_workers_lost", "Workers declared dead by the reaper",
                                    registry=registry)
        self.webhook_attempts = Counter("workshop_webhook_attempts",
                                        "Webhook delivery attempts by outcome", ["outcome"],
                                        registry=registry)

    def observe(self, event: Event) -> None:
        if event.name == "worker_lost":
            self.workers_lost.inc()
        elif (event.task_id or "").startswith(DELIVERY_ID_PREFIX):
            if event.name == "completed":
                self.webhook_attempts.labels("delivered").inc()
            elif event.name == "failed":
                self.webhook_attempts.labels("failed").inc()
