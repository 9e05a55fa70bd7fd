"""The backends of one app: the store, the queue, the relay, the event follower, metrics.

Built once per app and kept in ``app.state.backends``; every router reads what
it needs from there (routers/common.py), so no route opens its own connection.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from session5_recovery.workers import RedisTaskQueue
from session5_recovery.workers.cluster import async_redis_client

from .config import ApiConfig
from .images import ImageLibrary
from .metrics import Metrics
from .relay import OutboxRelay
from .services import open_queue, open_store, redis_url_for
from .store import TaskStore
from .sync import EventSync, changes_for


@dataclass
class Backends:
    """Everything a route may use, built once per app."""

    config: ApiConfig
    store: TaskStore
    queue: RedisTaskQueue
    # For the SSE streams (XREAD BLOCK without holding a thread); a cluster's on a cluster.
    aredis: aioredis.Redis | aioredis.RedisCluster
    images: ImageLibrary
    metrics: Metrics
    relay: OutboxRelay
    sync: EventSync
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start_background(self) -> None:
        """The relay and the event follower, each in a daemon thread of this process."""
        self._stop.clear()
        for name, target in (("outbox-relay", self.relay.run_forever),
                             ("event-sync", self.sync.run_forever)):
            thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

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
        for event in self.queue.events(window):
            changes = changes_for(event)
            if event.task_id == task_id and changes:
                self.store.apply_event(task_id, event.id, **changes)


def build_backends(config: ApiConfig) -> Backends:
    """Connect to the database and Redis, prepare the folders, build the helpers."""
    store = open_store(config)
    queue = open_queue(config)
    images = ImageLibrary(config.images_dir, config.samples_dir,
                          max_bytes=config.max_upload_bytes, max_pixels=config.max_image_pixels)
    images.prepare()
    config.results_dir.mkdir(parents=True, exist_ok=True)
    metrics = Metrics(queue.get_stats)
    return Backends(
        config=config, store=store, queue=queue,
        aredis=async_redis_client(redis_url_for(config), decode_responses=True),
        images=images, metrics=metrics, relay=OutboxRelay(store, queue),
        sync=EventSync(store, queue, on_event=metrics.observe))
