"""One live process per worker id: a per-process token beside the id.

A worker id names a processing list and a heartbeat key. Two live processes with
the same id (two terminals with ``--id w1``, or containers whose processes get the
same PID and so the same default id ``worker-<pid>``) would share both: each runs
tasks the other claimed, both report them complete, and one's shut-down requeues
the other's task and deletes its heartbeat. So each process draws a random token
and holds ``{q}:instance:<id>`` with it, refreshed with every heartbeat and
expiring like one:

- at start, a worker whose id is held by a token that keeps being refreshed waits
  one TTL (the holder may be a crashed process whose key has not expired yet),
  then refuses to start: ``WorkerIdInUseError``;
- a beat that finds another token there (our key expired while we were frozen,
  and another process took the id) reports the clash, and the worker stops
  without touching the list or the heartbeat that now belong to the other.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

import redis

# KEYS[1] the instance key; ARGV token, ttl_ms. Take or refresh it unless another holds it.
_TAKE = """
local holder = redis.call("GET", KEYS[1])
if holder and holder ~= ARGV[1] then return holder end
if holder then
    redis.call("PEXPIRE", KEYS[1], ARGV[2])  -- needs no memory: works on a full server too
else
    redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
end
return false
"""
# KEYS[1] the instance key; ARGV token. Delete it only if it is ours.
_RELEASE = """
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0
"""


class WorkerIdInUseError(RuntimeError):
    """Another live process uses this worker id."""


class InstanceToken:
    """This process's claim on ``worker_id`` in ``queue``.

    ``client`` is the queue's, which decodes replies: tokens come back as text.
    """

    def __init__(self, client: redis.Redis, key: str, worker_id: str, ttl_ms: int) -> None:
        self.client = client
        self.key = key
        self.worker_id = worker_id
        self.ttl_ms = ttl_ms
        self.token = f"{socket.gethostname()}/pid {os.getpid()}/{uuid.uuid4().hex[:12]}"
        self._take = client.register_script(_TAKE)
        self._release = client.register_script(_RELEASE)

    def holder(self) -> str | None:
        """Who holds the id if not us (their token: host/pid/random), else None. Only reads."""
        current = self.client.get(self.key)
        return None if current == self.token else current

    def acquire(self, wait: float) -> None:
        """Take the id; WorkerIdInUseError if another process keeps it for ``wait`` seconds."""
        deadline = time.monotonic() + wait
        while (holder := self.refresh()) is not None:
            if time.monotonic() >= deadline:
                raise WorkerIdInUseError(
                    f"worker id {self.worker_id!r} is in use by another live process "
                    f"({holder}); two processes with one id would run each other's tasks. "
                    f"Start this one with another --id (or stop the other one first)")
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def refresh(self) -> str | None:
        """Take or keep holding the id (one script); the other holder's token if it is
        theirs (we never had it, or it was taken from us), else None."""
        return self._take(keys=[self.key], args=[self.token, self.ttl_ms])

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.token])
