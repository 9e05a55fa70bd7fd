"""Prometheus metrics (``GET /metrics``), with prometheus_client.

Two kinds:
- *gauges read at scrape time*: tasks by state come from the queue's own
  counts when Prometheus asks, so they can never drift from Redis;
- *counters fed by the event follower*: claims, completions, failures,
  dead-letterings, and a histogram of recovery latency: the seconds between a
  task's claim and its requeue by the reaper, i.e. how long a dead worker kept
  a task from everybody else.

Each app gets its own registry, so several apps in one test process do not
collide.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from session5_recovery.workers import Event

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_REMEMBERED_CLAIMS = 10_000  # claim times kept for the latency histogram (oldest dropped)


class _QueueStateCollector(Collector):
    def __init__(self, read_stats: Callable[[], dict[str, int]]) -> None:
        self.read_stats = read_stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        tasks = GaugeMetricFamily("workshop_tasks", "Tasks in each state, read from Redis",
                                  labels=["state"])
        pending = GaugeMetricFamily("workshop_pending", "Pending tasks by priority",
                                    labels=["priority"])
        paused = GaugeMetricFamily("workshop_paused", "1 while the queue is paused")
        try:
            stats = self.read_stats()
        except Exception:  # Redis down: no sample rather than a failed scrape
            stats = {}
        for name, value in stats.items():
            if name.startswith("pending_"):
                pending.add_metric([name.removeprefix("pending_")], float(value))
            elif name == "paused":
                paused.add_metric([], float(value))
            elif name not in ("total", "enqueued", "workers"):
                tasks.add_metric([name], float(value))
        yield from (tasks, pending, paused)


class Metrics:
    """The registry and the event counters of one app."""

    def __init__(self, read_stats: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_QueueStateCollector(read_stats))
        self.claims = Counter("workshop_claims", "Tasks claimed by workers",
                              registry=self.registry)
        self.completions = Counter("workshop_completions", "Tasks completed",
                                   registry=self.registry)
        self.failures = Counter("workshop_failures", "Attempts that raised an error",
                                registry=self.registry)
        self.dead_lettered = Counter("workshop_dead_lettered", "Tasks moved to the DLQ",
                                     registry=self.registry)
        self.recovery_latency = Histogram(
            "workshop_recovery_latency_seconds",
            "Seconds from a task's claim to its requeue by the reaper",
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120), registry=self.registry)
        self._claimed_at: OrderedDict[str, float] = OrderedDict()

    def observe(self, event: Event) -> None:
        """Count one event of the stream (called by the event follower)."""
        task = event.task_id or ""
        if event.name == "claimed":
            self.claims.inc()
            self._claimed_at[task] = event.ts
            self._claimed_at.move_to_end(task)
            while len(self._claimed_at) > _REMEMBERED_CLAIMS:
                self._claimed_at.popitem(last=False)
        elif event.name == "completed":
            self.completions.inc()
            self._claimed_at.pop(task, None)
        elif event.name == "failed":
            self.failures.inc()
        elif event.name == "dead_lettered":
            self.dead_lettered.inc()
        elif event.name == "requeued" and event.fields.get("reason") == "worker lost":  # reaper
            claimed = self._claimed_at.pop(task, None)
            if claimed is not None and event.ts >= claimed:
                self.recovery_latency.observe(event.ts - claimed)

    def render(self) -> bytes:
        return generate_latest(self.registry)
