"""Opening the two backends from an ``ApiConfig``: one place, so the app, the relay,
the CLI, the demos and the tests connect the same way."""

from __future__ import annotations

from session4_redis.workers.redis_connection import resolve_redis
from session5_recovery.workers import RedisTaskQueue
from session5_recovery.workers.cluster import redis_client
from session5_recovery.workers.redis_task_queue import TEXT_REPLIES

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
    """The queue on ``config``'s Redis: a single server or any node of a Redis Cluster."""
    url = redis_url_for(config)
    queue = RedisTaskQueue(client=redis_client(url, **TEXT_REPLIES), url=url,
                           queue_name=config.queue_name)
    queue.check_connection()
    return queue


def open_store(config: ApiConfig) -> TaskStore:
    store = TaskStore(config.database_url, prefix=config.table_prefix)
    store.create_schema()
    return store
