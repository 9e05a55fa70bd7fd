"""The yardstick for ``make bench``: the smallest correct Redis task queue in redis-py.

What "correct" means here, and no more: a claim is atomic (``BLMOVE`` from
pending into a processing list, so two workers never get the same task and a
crashed worker's task is still visible), the task is read with one ``HMGET``,
and finishing is one ``MULTI`` of ``LREM`` / ``HSET`` / ``LPUSH``, so the task
is never in two lists or in none. Three round trips per task. No heartbeats,
no retries, no events, no fencing: everything sessions 4 and 5 add is missing.

Our queues are measured against it in the same run (``workshop/bench.py``), and
their rates are printed as ratios to it: a ratio says what our design costs (or
saves) compared with the bare minimum, on this machine, whatever its speed.
"""

from __future__ import annotations

import time
import uuid

import redis


class ReferenceQueue:
    """``{name}:pending`` / ``{name}:processing`` / ``{name}:completed`` lists and task hashes."""

    def __init__(self, client: redis.Redis, name: str) -> None:
        self.client = client
        self.pending = f"{name}:pending"
        self.processing = f"{name}:processing"
        self.completed = f"{name}:completed"
        self.task_prefix = f"{name}:task:"

    def add_tasks(self, payloads: list[str]) -> list[str]:
        """Queue JSON payloads in one pipeline; their ids."""
        ids = [uuid.uuid4().hex for _ in payloads]
        pipe = self.client.pipeline(transaction=False)
        for task_id, payload in zip(ids, payloads, strict=True):
            pipe.hset(self.task_prefix + task_id, mapping={"data": payload, "status": "pending"})
            pipe.lpush(self.pending, task_id)
        pipe.execute()
        return ids

    def claim(self, timeout: float) -> tuple[str, str] | None:
        """Round trips 1 and 2: the atomic move, then the read. (id, data) or None."""
        task_id = self.client.blmove(self.pending, self.processing, timeout, "RIGHT", "LEFT")
        if task_id is None:
            return None
        task_id = task_id.decode() if isinstance(task_id, bytes) else task_id
        (data,) = self.client.hmget(self.task_prefix + task_id, "data")
        return task_id, data

    def complete(self, task_id: str) -> None:
        """Round trip 3: out of processing, marked, into completed, all at once."""
        pipe = self.client.pipeline(transaction=True)
        pipe.lrem(self.processing, 1, task_id)
        pipe.hset(self.task_prefix + task_id, "status", "completed")
        pipe.lpush(self.completed, task_id)
        pipe.execute()

    def clear(self) -> None:
        keys = [self.pending, self.processing, self.completed]
        keys += list(self.client.scan_iter(match=self.task_prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            self.client.delete(*keys[start:start + 1000])


def run_reference_worker(redis_url: str, name: str, count: int) -> float:
    """A worker process: drain ``count`` tasks; the seconds its loop took (no start-up)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    queue = ReferenceQueue(client, name)
    done = 0
    started = time.perf_counter()
    try:
        while done < count:
            claimed = queue.claim(timeout=1.0)
            if claimed is None:
                break  # the queue ran dry before `count`: the caller sees it in the counts
            queue.complete(claimed[0])
            done += 1
        return time.perf_counter() - started
    finally:
        client.close()
