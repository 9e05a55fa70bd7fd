"""When the reaper must wait: after a Redis restart, and after the reaper itself was late.

A reaper declares a worker dead when its heartbeat key has expired. Two situations
make live workers' keys expire although nobody crashed:

- **the server restarted** (with persistence): expiry times are absolute, so every
  heartbeat that fell due while the server was down is gone the moment it is back,
  before the workers have had a chance to reconnect and beat again;
- **the reaper was late**: its own process was frozen or starved (a laptop lid, a
  stop-the-world pause, a swapping machine). Other processes on the machine may
  have been frozen too, and their keys ran out for the same reason.

Reaping then would requeue tasks that are still running and count an attempt
each time, so a healthy task can reach the DLQ as "a task that kills its
worker?". So in both cases the reaper holds off for one heartbeat TTL: a live
worker beats every ``heartbeat_interval`` (at most half the TTL), so by then every
live worker has refreshed its key, and only the really dead are reaped.

On a Redis Cluster the restart that matters is that of the node holding the
queue (``key``'s slot): ``INFO server`` is asked of that node (cluster.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from .cluster import server_for


class ReapGrace:
    """Decides, before each periodic reap, whether to hold off (and says why, once)."""

    def __init__(self, client: redis.Redis, heartbeat_ttl: float, reap_interval: float, *,
                 monotonic: Callable[[], float] = time.monotonic, key: str | None = None) -> None:
        """``key``: a key of the queue; required on a Redis Cluster, where it picks the node."""
        self.client = client
        self.key = key
        server_for(client, key)  # on a cluster without a key: ValueError now, not at the first round
        self.ttl = heartbeat_ttl
        self.reap_interval = reap_interval
        self.monotonic = monotonic
        self._last_check: float | None = None
        self._run_id: str | None = None
        self._hold_until = 0.0
        self.reason: str | None = None  # why the last hold-off began

    def hold_off(self) -> bool:
        """True if the reaper should skip this round; ``reason`` then says why."""
        now = self.monotonic()
        gap = None if self._last_check is None else now - self._last_check
        self._last_check = now
        server = server_for(self.client, self.key).info("server")
        run_id = str(server.get("run_id", ""))
        uptime = float(server.get("uptime_in_seconds", 1e9))
        restarted = self._run_id is not None and run_id != self._run_id
        self._run_id = run_id
        if gap is not None and gap > self.ttl:
            self._begin(now, f"this reaper was late ({gap:.1f} s since its last round, more "
                             f"than the {self.ttl:g} s TTL: frozen or starved), so live workers "
                             f"may not have beaten yet")
        if restarted or uptime < self.ttl:
            self._begin(now, f"the Redis server restarted {uptime:.0f} s ago; heartbeats that "
                             f"fell due while it was down are gone")
        return now < self._hold_until

    def _begin(self, now: float, reason: str) -> None:
        if now >= self._hold_until:
            self.reason = reason
        self._hold_until = max(self._hold_until, now + self.ttl)
