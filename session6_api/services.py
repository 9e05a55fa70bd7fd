"""Opening the two backends from an ``ApiConfig``: one place, so the app, the relay,
the CLI, the demos and the tests connect the same way.

Every option the service relies on is set here explicitly, not left to the
client library's defaults, because defaults change between major versions
(redis-py 6 started retrying ten times with back-off; 8 reads with a 5 s socket
timeout): a request must fail within ``backend_timeout`` when a backend is
down or frozen, so the API can answer 503 quickly instead of hanging.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from session4_redis.workers.redis_connection import resolve_redis
from session5_recovery.workers import RedisTaskQueue
from session5_recovery.workers.cluster import async_redis_client

from .config import ApiConfig
from .store import TaskStore

# One retry, at once, and only when the connection broke (a pooled connection that a
# Redis restart closed): a timeout is not retried, it is an answer ("down").
RETRIES_ON_BROKEN_CONNECTION = 1


def redis_url_for(config: ApiConfig) -> str:
    """``config.redis_url``, else the workshop's resolution (REDIS_URL, local, embedded)."""
    if config.redis_url:
        return config.redis_url
    target = resolve_redis(announce=False)
    assert target.url is not None
    return target.url


def redis_options(config: ApiConfig, *, blocking_for: float = 0.0) -> dict[str, Any]:
    """The redis-py options of the API's clients (sync and asyncio), all explicit.

    ``blocking_for``: the longest ``BLOCK`` the client's commands use (the event
    follower's ``XREAD``); the read timeout is that plus ``backend_timeout``, or a
    quiet stream would look like a dead server.
    """
    return {
        "socket_connect_timeout": config.backend_timeout,
        "socket_timeout": config.backend_timeout + blocking_for,
        "socket_keepalive": True,
        "health_check_interval": 0,
    }


def open_queue(config: ApiConfig, *, blocking_for: float = 0.5) -> RedisTaskQueue:
    """Session 5's queue with explicit options; ``blocking_for``: the event follower's
    ``XREAD BLOCK`` (0.5 s, ``EventSync.run_forever``) shares this client."""
    retry = Retry(NoBackoff(), RETRIES_ON_BROKEN_CONNECTION,
                  supported_errors=(RedisConnectionError,))
    return RedisTaskQueue.connect(redis_url_for(config), queue_name=config.queue_name,
                                  retry=retry, **redis_options(config, blocking_for=blocking_for))


def open_async_redis(config: ApiConfig, *, blocking_for: float = 0.0,
                     max_connections: int = 10,
                     cluster: bool = False) -> aioredis.Redis | aioredis.RedisCluster:
    """An asyncio client (the SSE streams' shared reader, and their history reads).

    A *blocking* pool of ``max_connections``: a request waits up to
    ``backend_timeout`` for a free connection. redis-py's default asyncio pool
    raises "Too many connections" past its size instead, which cut every stream
    when each held a connection; now the streams share ONE reader (sse.py) and
    only short commands use this pool. ``cluster``: the queue's server is a Redis
    Cluster node (asked once, when the queue was opened), so a cluster client.
    """
    retry = AsyncRetry(NoBackoff(), RETRIES_ON_BROKEN_CONNECTION,
                       supported_errors=(RedisConnectionError,))
    if cluster:
        # A cluster client keeps a pool per node; its size bounds each of them.
        return async_redis_client(redis_url_for(config), decode_responses=True, retry=retry,
                                  max_connections=max_connections,
                                  **redis_options(config, blocking_for=blocking_for))
    pool = aioredis.BlockingConnectionPool.from_url(
        redis_url_for(config), decode_responses=True, retry=retry,
        max_connections=max_connections, timeout=config.backend_timeout,
        **redis_options(config, blocking_for=blocking_for))
    return aioredis.Redis(connection_pool=pool)


def open_store(config: ApiConfig) -> TaskStore:
    store = TaskStore(config.database_url, prefix=config.table_prefix,
                      timeout=config.backend_timeout)
    store.create_schema()
    return store
