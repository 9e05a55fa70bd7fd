"""One Redis URL, a single server or a Redis Cluster: the client that fits, and its node.

A Redis Cluster splits the keys into 16,384 *slots* spread over several servers
(its *nodes*). A client for one server, given the URL of one node, works only
for the keys that node holds: for any other key the node answers ``MOVED`` and
redis-py raises ``MovedError``. A cluster client (``RedisCluster``) asks any
node for the map of slots and then sends each command to the node that owns
its key.

Which one a URL needs is asked of the server, not spelled in the URL: a node
answers ``INFO cluster`` with ``cluster_enabled:1``. So ``--redis-url`` /
``REDIS_URL`` may name a single server or *any* node of a cluster, and every
entry point (the command line, worker processes, the fleet, session 6's API)
builds its client here. A user whose ACL forbids ``INFO`` gets a single-server
client, as before.

Commands about the server itself (``INFO``, ``CONFIG GET``) are not about a
key, so a cluster client sends them to a default node, which may not be the
one holding the queue: a restart of the queue's node would go unnoticed.
``server_for(client, key)`` gives a client for the node that owns ``key``'s
slot, and the server checks (grace.py, server_checks.py) ask that one.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio
from redis.cluster import RedisCluster

# What a URL-built client may be. Both speak the same commands for one key, and
# all the keys of one queue share one slot (keys.py), so the queue needs nothing else.
RedisClient = redis.Redis | RedisCluster
AsyncRedisClient = redis.asyncio.Redis | redis.asyncio.RedisCluster

DETECT_TIMEOUT = 5.0  # seconds for the one INFO that tells a cluster node from a server


def is_cluster(url: str, timeout: float = DETECT_TIMEOUT) -> bool:
    """True if the server at ``url`` is a node of a Redis Cluster (``cluster_enabled:1``).

    Raises redis.ConnectionError / TimeoutError if nothing answers there, like any
    first command would. A server that refuses ``INFO`` (an ACL) counts as a single
    server: that is what the URL meant before clusters were understood here.
    """
    probe = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(probe.info("cluster").get("cluster_enabled"))
    except redis.ResponseError as error:
        # A URL with /1 makes the client SELECT 1 first, which only a cluster refuses so.
        return "not allowed in cluster mode" in str(error)
    finally:
        probe.close()


def _cluster_url(url: str) -> str:
    """``url`` checked for what a cluster cannot do: it has only database 0."""
    path = url.partition("://")[2].partition("?")[0]
    db = path.partition("/")[2]
    if db not in ("", "0"):
        raise ValueError(f"{url.split('@')[-1]!r} names database {db}, but a Redis Cluster has "
                         f"only database 0: end the URL with /0 (or nothing)")
    return url


def redis_client(url: str, **kwargs: Any) -> RedisClient:
    """A client for ``url``: ``RedisCluster`` if the server is a cluster node, else ``redis.Redis``.

    ``kwargs`` go to the client (``decode_responses=True``, timeouts...). Asks the
    server once (``is_cluster``), so it raises redis.ConnectionError if nothing
    answers at ``url``, and ValueError for a cluster URL with a database other than 0.
    """
    if is_cluster(url, timeout=kwargs.get("socket_connect_timeout") or DETECT_TIMEOUT):
        return RedisCluster.from_url(_cluster_url(url), **kwargs)
    return redis.Redis.from_url(url, **kwargs)


def async_redis_client(url: str, **kwargs: Any) -> AsyncRedisClient:
    """The asyncio counterpart of ``redis_client`` (session 6's event streams use it)."""
    if is_cluster(url):
        return redis.asyncio.RedisCluster.from_url(_cluster_url(url), **kwargs)
    return redis.asyncio.Redis.from_url(url, **kwargs)


def server_for(client: Any, key: str | None) -> Any:
    """The client to ask about the server that holds ``key``.

    For a single server that is ``client`` itself. For a ``RedisCluster`` it is a
    plain client for the node that owns ``key``'s slot (a primary), looked up in
    the client's slot map each time, so after a failover it is the new primary.
    ``key`` is required there: without it the question would go to a default node.
    """
    if not isinstance(client, RedisCluster):
        return client
    if key is None:
        raise ValueError("on a Redis Cluster, a server check needs a key of the queue "
                         "(key=queue.keys.workers) to know which node to ask")
    return client.get_redis_connection(client.get_node_from_key(key))


def cluster_note(client: Any, key: str) -> str | None:
    """One line saying where ``key`` (and so its queue) lives on a cluster; None for a server."""
    if not isinstance(client, RedisCluster):
        return None
    return (f"Redis Cluster: every key of this queue is in slot {client.keyslot(key)}, "
            f"on node {client.get_node_from_key(key).name}")
