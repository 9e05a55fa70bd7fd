"""A task queue on a Redis Stream consumer group: claim, lease, reaper, fenced ack, dead letters.

- claim: ``XREADGROUP ... >`` gives each new entry to exactly one consumer and records it
  in the group's pending entries list (PEL) under that consumer;
- reaper: ``XAUTOCLAIM`` takes entries idle longer than ``min_idle_ms`` from any consumer
  (a dead one, or a failed attempt left unacked), and counts a delivery each time;
- attempts are the PEL's delivery count; past ``max_deliveries`` an entry goes to the
  dead-letter stream instead of running again (a poison task cannot loop forever);
- ``XACK`` is not fenced: an old owner's ack still succeeds after the reaper gave the entry
  to someone else. So we never call it bare: ``_FENCED`` checks in the PEL that the entry
  is still ours, then acks and records the result, atomically;
- the lease: a worker running a long task touches its entry (``XCLAIM ... JUSTID`` through
  the same fence), so only a silent worker's entries become idle.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

# KEYS: stream, done, dead. ARGV: command (complete|dead|touch), group, consumer, entry id,
# task id, payload. Returns 1, or 0 if the entry is no longer this consumer's (fenced out).
_FENCED = """
local p = redis.call('XPENDING', KEYS[1], ARGV[2], ARGV[4], ARGV[4], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
if ARGV[1] == 'touch' then
  redis.call('XCLAIM', KEYS[1], ARGV[2], ARGV[3], 0, ARGV[4], 'JUSTID')
  return 1
end
redis.call('XACK', KEYS[1], ARGV[2], ARGV[4])
if ARGV[1] == 'complete' then redis.call('RPUSH', KEYS[2], ARGV[5])
else redis.call('XADD', KEYS[3], '*', 'task_id', ARGV[5], 'info', ARGV[6]) end
return 1
"""


@dataclass
class Delivery:
    entry_id: str
    task_id: str
    data: dict[str, Any]
    deliveries: int  # 1 on the first delivery: the attempt number


class StreamQueue:
    """Stream ``{name}:stream`` and its group, list ``{name}:done``, dead-letter stream ``{name}:dead``.

    The client must be made with ``decode_responses=True``.
    """

    def __init__(self, client: redis.Redis, name: str, *, group: str = "workers",
                 min_idle_ms: int = 3000, max_deliveries: int = 3) -> None:
        self.client, self.group = client, group
        self.stream, self.done, self.dead = f"{name}:stream", f"{name}:done", f"{name}:dead"
        self.min_idle_ms, self.max_deliveries = min_idle_ms, max_deliveries
        self._fenced = client.register_script(_FENCED)
        try:
            client.xgroup_create(self.stream, group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):  # the group exists already: fine
                raise

    def add(self, task_id: str, data: dict[str, Any]) -> str:
        return self.client.xadd(self.stream, {"task_id": task_id, "data": json.dumps(data)})

    def claim(self, consumer: str, block_ms: int = 1000) -> Delivery | None:
        """A stale entry if the reaper finds one, else a new entry (waits up to ``block_ms``)."""
        reaped = self.reap(consumer, count=1)
        if reaped:
            return reaped[0]
        reply = self.client.xreadgroup(self.group, consumer, {self.stream: ">"}, count=1,
                                       block=block_ms)
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                return _delivery(entry_id, fields, 1)
        return None

    def reap(self, consumer: str, count: int = 10) -> list[Delivery]:
        """Take over entries idle past ``min_idle_ms``; dead-letter those delivered too often."""
        _next, claimed, *_deleted = self.client.xautoclaim(
            self.stream, self.group, consumer, self.min_idle_ms, start_id="0-0", count=count)
        runnable = []
        for entry_id, fields in claimed:
            if not fields:  # trimmed from the stream while pending: nothing to run
                self.client.xack(self.stream, self.group, entry_id)
                continue
            info = self.client.xpending_range(self.stream, self.group, min=entry_id,
                                              max=entry_id, count=1)
            delivery = _delivery(entry_id, fields, int(info[0]["times_delivered"]) if info else 1)
            if delivery.deliveries > self.max_deliveries:
                self.dead_letter(delivery, consumer, f"delivered {delivery.deliveries} times")
            else:
                runnable.append(delivery)
        return runnable

    def _fence(self, command: str, d: Delivery, consumer: str, payload: str = "") -> bool:
        keys = [self.stream, self.done, self.dead]
        args = [command, self.group, consumer, d.entry_id, d.task_id, payload]
        return bool(self._fenced(keys=keys, args=args))

    def complete(self, d: Delivery, consumer: str) -> bool:
        return self._fence("complete", d, consumer)

    def dead_letter(self, d: Delivery, consumer: str, reason: str) -> bool:
        info = json.dumps({"data": d.data, "reason": reason, "deliveries": d.deliveries})
        return self._fence("dead", d, consumer, info)


def run_worker(queue: StreamQueue, consumer: str, handler: Callable[[str, dict], Any], *,
               permanent: tuple[type[BaseException], ...] = (ValueError,),
               stop: threading.Event | None = None, burst: bool = False) -> None:
    """Claim, run, ack; a failed attempt stays pending and the reaper brings it back later."""
    stop = stop or threading.Event()
    while not stop.is_set():
        delivery = queue.claim(consumer, block_ms=200 if burst else 1000)
        if delivery is None:
            if burst:
                return
            continue
        done = threading.Event()
        lease = threading.Thread(target=_keep_lease, args=(queue, delivery, consumer, done))
        lease.start()
        try:
            handler(delivery.task_id, delivery.data)
        except permanent as error:
            queue.dead_letter(delivery, consumer, f"{type(error).__name__}: {error}")
        except Exception:  # transient: not acked, so it comes back after min_idle_ms
            pass
        else:
            queue.complete(delivery, consumer)
        finally:
            done.set()
            lease.join()


def _keep_lease(queue: StreamQueue, d: Delivery, consumer: str, done: threading.Event) -> None:
    while not done.wait(queue.min_idle_ms / 3000):
        if not queue._fence("touch", d, consumer):
            return  # the reaper gave it to someone else: our ack will be refused too


def _delivery(entry_id: str, fields: dict, deliveries: int) -> Delivery:
    return Delivery(entry_id, fields["task_id"], json.loads(fields["data"]), deliveries)
