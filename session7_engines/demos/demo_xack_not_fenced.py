"""XACK is not fenced: an old owner's ack still succeeds. Run it and see, then see the fix.

    python session7_engines/demos/demo_xack_not_fenced.py

One entry, two consumers. ``old`` reads it and goes silent; the reaper
(XAUTOCLAIM) gives it to ``new``. ``old`` wakes up and acks: Redis says 1
(acknowledged), and ``new``'s work is now unaccounted for. Our ``complete``
checks the owner in the pending entries list first, inside one Lua script.
"""

from __future__ import annotations

import uuid

from session7_engines.streams import StreamQueue
from workshop.redis_connection import resolve_redis


def main() -> None:
    target = resolve_redis()
    client = target.client(decode_responses=True)
    name = f"demo-s7-{uuid.uuid4().hex[:8]}"
    try:
        queue = StreamQueue(client, name, min_idle_ms=0)  # everything pending is stale at once
        queue.add("t1", {"type": "noop"})
        old = queue.claim("old", block_ms=10)
        print(f"old claimed {old.task_id} (entry {old.entry_id}, delivery {old.deliveries})")
        new = queue.claim("new", block_ms=10)
        print(f"the reaper gave it to new (delivery {new.deliveries})")
        print(f"old's fenced complete -> {queue.complete(old, 'old')}  (refused: not its entry)")
        print(f"old's bare XACK       -> {client.xack(queue.stream, queue.group, old.entry_id)}"
              f"      (accepted: XACK checks no owner)")
        print(f"new's fenced complete -> {queue.complete(new, 'new')}  (nothing pending any more:"
              f" the bare ack stole it)")
    finally:
        keys = list(client.scan_iter(match=f"{name}*"))
        if keys:
            client.delete(*keys)
        client.close()


if __name__ == "__main__":
    main()
