"""Opening the two backends from an ``ApiConfig``: one place, so the app, the relay,
the CLI, the demos and the tests connect the same way."""

from __future__ import annotations

from session4_redis.workers.redis_connection import resolve_redis
from session5_recovery.workers import RedisTaskQueue

from .config import ApiConfig
from .store import TaskStore


def redis_url_for(config: ApiConfig) -> str:
    """``config.redis_url``, else the workshop's resolution (REDIS_URL, local, embedded)."""
    if config.redis_url:
        return config.redis_url
    target = resolve_redis(announce=False)
    assert target.url is not None
    return target.url


def open_queue(config: ApiConfig) -> RedisTaskQueue:
    return RedisTaskQueue.connect(redis_url_for(config), queue_name=config.queue_name)


def open_store(config: ApiConfig) -> TaskStore:
    store = TaskStore(config.database_url, prefix=config.table_prefix)
    store.create_schema()
    return store
