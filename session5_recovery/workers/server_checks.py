"""Checks of the Redis server itself, made before a worker or the CLI trusts it with tasks.

A queue in Redis is only as safe as the server's memory policy. With an evicting
``maxmemory-policy`` (``allkeys-lru``, ``volatile-lru``, ...), a full server
deletes keys to make room: task records, whole lists, heartbeats. Tasks that were
accepted vanish, live workers look dead, and nothing fails loudly. So a worker and
the CLI refuse to start on such a server unless told explicitly
(``allow_eviction=True``, ``--allow-eviction``). ``noeviction`` is the policy a
queue needs: a full server then refuses writes, which the worker rides out.
On a Redis Cluster the server asked is the node that holds the queue (``key``).
"""

from __future__ import annotations

import redis

from session4_redis.workers.redis_connection import eviction_warning, maxmemory_policy

from .cluster import server_for


class EvictingServerError(RuntimeError):
    """The server deletes keys when it is full, and nobody said that was acceptable."""


def check_eviction_policy(client: redis.Redis, *, key: str | None = None,
                          allow_eviction: bool = False,
                          flag: str = "allow_eviction=True") -> str | None:
    """Raise EvictingServerError on an evicting policy; return a warning line, or None.

    The warning is for the cases that go ahead anyway: eviction allowed explicitly,
    or a server that will not tell its policy (CONFIG GET refused by an ACL).
    ``key`` is a key of the queue: required on a Redis Cluster, where it picks the node.
    """
    policy = maxmemory_policy(server_for(client, key))
    if policy is None:
        return ("could not read the server's maxmemory-policy (CONFIG GET is not allowed); "
                "make sure it is noeviction, or accepted tasks may be evicted")
    warning = eviction_warning(policy)
    if warning is None:
        return None
    if allow_eviction:
        return f"WARNING: {warning}; going ahead because eviction was allowed explicitly"
    raise EvictingServerError(f"refusing to start: {warning}; or pass {flag} if losing "
                              f"tasks is acceptable here")
