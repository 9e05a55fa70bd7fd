"""The backends of one app: the store, the queue, the relay, the event follower, metrics.

Built once per app and kept in ``app.state.backends``; every router reads what
it needs from there (routers/common.py), so no route opens its own connection.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.cluster import RedisCluster

from session5_recovery.workers import RedisTaskQueue

from .config import ApiConfig
from .images import ImageLibrary, UploadBudget
from .metrics import Metrics
from .outages import ThrottledLog
from .relay import OutboxRelay
from .resend import DataLossRecovery
from .services import open_async_redis, open_queue, open_store
from .sse import READ_BLOCK_SECONDS, EventFanout
from .store import TaskStore
from .sync import EventSync, changes_for

HOUSEKEEPING_EVERY = 60.0  # seconds between two clean-ups while serving


@dataclass
class Backends:
    """Everything a route may use, built once per app."""

    config: ApiConfig
    store: TaskStore
    queue: RedisTaskQueue
    # For the SSE streams' history (short XRANGEs); a cluster client on a cluster.
    aredis: aioredis.Redis | aioredis.RedisCluster
    fanout: EventFanout  # the one XREAD BLOCK loop that feeds every open stream
    images: ImageLibrary
    metrics: Metrics
    relay: OutboxRelay
    sync: EventSync
    recovery: DataLossRecovery  # Redis came back empty: re-send from the database
    upload_budget: UploadBudget  # bytes per client per window (429 past it)
    throttled: ThrottledLog = field(default_factory=lambda: ThrottledLog(
        logging.getLogger("session6_api")))  # repeated errors: one line per interval
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start_background(self) -> None:
        """The relay and the event follower, each in a daemon thread of this process."""
        self._stop.clear()
        for name, target in (("outbox-relay", self.relay.run_forever),
                             ("event-sync", self.sync.run_forever),
                             ("data-loss-watch", self.recovery.run_forever),
                             ("housekeeping", self.housekeeping_forever)):
            thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def housekeeping(self) -> dict[str, int]:
        return housekeeping(self.store, self.images, self.config.upload_ttl)

    def housekeeping_forever(self, stop: threading.Event,
                             interval: float = HOUSEKEEPING_EVERY) -> None:
        while not stop.wait(interval):
            try:
                self.housekeeping()
            except Exception as error:  # a backend down: next time
                self.throttled.warning("housekeeping", "housekeeping failed: %s", error)

    def stop_background(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()

    def catch_up(self, task_id: str, window: int = 1000) -> None:
        """Apply ``task_id``'s latest events now (after a cancel, so the next GET shows it).

        A second follower beside the background one is safe: the fenced update
        ignores an event that is not newer than the last one the row has seen.
        """
        self.store.apply_events([(task_id, event.id, changes)
                                 for event in self.queue.events(window)
                                 if event.task_id == task_id and (changes := changes_for(event))])


def build_backends(config: ApiConfig) -> Backends:
    """Connect to the database and Redis, prepare the folders, build the helpers."""
    store = open_store(config)
    queue = open_queue(config)
    images = ImageLibrary(config.images_dir, config.samples_dir,
                          max_bytes=config.max_upload_bytes, max_pixels=config.max_image_pixels)
    images.prepare()
    config.results_dir.mkdir(parents=True, exist_ok=True)
    metrics = Metrics(queue.get_stats)
    on_cluster = isinstance(queue.client, RedisCluster)  # asked of the server once, at connect

    def reader_client() -> aioredis.Redis | aioredis.RedisCluster:
        """The shared reader's own connection, made in the event loop that uses it."""
        return open_async_redis(config, blocking_for=READ_BLOCK_SECONDS, max_connections=1,
                                cluster=on_cluster)

    return Backends(
        config=config, store=store, queue=queue,
        aredis=open_async_redis(config, cluster=on_cluster),
        fanout=EventFanout(reader_client, queue.keys.events), images=images, metrics=metrics,
        relay=OutboxRelay(store, queue), sync=EventSync(store, queue, on_event=metrics.observe),
        recovery=DataLossRecovery(store, queue),
        upload_budget=UploadBudget(config.upload_budget_bytes, config.upload_budget_window))


def housekeeping(store: TaskStore, images: ImageLibrary, upload_ttl: float) -> dict[str, int]:
    """Delete what is no longer needed: sent outbox rows of finished tasks, unused uploads.

    The background thread runs it every few minutes; ``python -m session6_api cleanup``
    runs it once, and may delete old finished tasks too.
    """
    return {"outbox_rows": store.prune_outbox(),
            "uploads": images.expire_unused(upload_ttl, store.images_in_use)
            if images.images_dir.is_dir() else 0}
