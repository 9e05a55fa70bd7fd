"""A consumer that child processes import by name (spawn cannot run a function from a test body)."""

import time

import redis


def drain_queue(url: str, queue: str) -> int:
    """Claim ids with a blocking BLMOVE until one second passes with nothing to take."""
    client = redis.Redis.from_url(url, decode_responses=True)
    taken = 0
    while (task_id := client.blmove(f"{queue}:pending", f"{queue}:processing", 1, "RIGHT", "LEFT")):
        time.sleep(0.001)  # a little work, so both consumers get a share
        pipe = client.pipeline()
        pipe.lrem(f"{queue}:processing", 1, task_id)
        pipe.rpush(f"{queue}:done", task_id)
        pipe.execute()
        taken += 1
    return taken
