"""Demo: kill -9 a worker behind the API, and count what happened to every task.

    python session6_api/demos/demo_kill_through_the_api.py      (from the repository)
    python demos/demo_kill_through_the_api.py                   (from session6_api/)

It starts its own ``python -m session6_api serve`` (two workers, the relay, the event
follower) on a free port, with its own queue name and a SQLite file under
``output/session6/demo_kill/``, so it never touches a ``make serve`` you have running.
Then, only through the API, as a client would:

1. ``POST /tasks`` eight image tasks, each with an ``Idempotency-Key``;
2. ``GET /dashboard/state`` until a worker holds a task, and read that worker's PID;
3. ``kill -9`` that PID (SIGKILL: no ``finally``, no goodbye, its task is mid-way);
4. ``GET /stats`` until every task has finished, then ``GET /tasks/{id}`` for each.

It ends with the count that matters: how many times each task *completed* (from the
queue's event stream: exactly once each), and the killed worker's task, claimed twice.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
import uuid
from collections import Counter

import httpx

from session6_api.config import DATA_DIR, ApiConfig
from session6_api.services import open_queue
from session6_api.testing.livetest import LiveServer
from workshop.redis_connection import RedisUnavailableError, resolve_redis

FOLDER = DATA_DIR / "demo_kill"
TASKS = 8
# A 1024x768 photo through a wide blur and edge detection: a second or two per task, so a
# worker is caught holding one; the output is a real picture (edges of a blurred photo).
BODY = {"image": "sample_03_1024x768.jpg", "filters": ["blur:radius=6", "edges"]}
WAIT = 180.0  # seconds: an upper bound on a loaded laptop, never reached when all is well


def wait_for(condition, what: str, timeout: float = WAIT):
    """Poll ``condition`` every 0.1 s until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise TimeoutError(f"gave up after {timeout:g} s waiting for {what}")


def busy_worker(client: httpx.Client) -> dict | None:
    """A live worker holding a task, with its PID, from the dashboard's state."""
    workers = client.get("/dashboard/state").json()["workers"]
    return next((w for w in workers if w["in_flight"] and w["pid"] and w["state"] == "alive"),
                None)


def all_finished(client: httpx.Client) -> bool:
    counts = client.get("/stats").json()["database"]
    return counts["completed"] + counts["dead_lettered"] == TASKS


def main() -> int:
    try:
        target = resolve_redis(announce=True)
    except RedisUnavailableError as error:
        print(error)
        return 1
    shutil.rmtree(FOLDER, ignore_errors=True)
    config = ApiConfig(redis_url=target.url, database_url=f"sqlite:///{FOLDER / 'tasks.db'}",
                       queue_name=f"demo_kill_{uuid.uuid4().hex[:6]}", data_dir=FOLDER)
    server = LiveServer(redis_url=config.redis_url, queue_name=config.queue_name,
                        database_url=config.database_url, data_dir=FOLDER, workers=2)
    queue = open_queue(config)
    print(f"1. serve on {server.url}: 2 workers, queue {config.queue_name!r} (log: "
          f"{server.log_path.relative_to(FOLDER.parent.parent.parent)})")
    try:
        with server, httpx.Client(base_url=server.url, timeout=30) as client:
            ids = []
            for n in range(TASKS):
                response = client.post("/tasks", json=BODY,
                                       headers={"Idempotency-Key": f"demo-kill-{n}"})
                response.raise_for_status()
                ids.append(response.json()["id"])
            print(f"2. POST /tasks x{TASKS}: {TASKS} x 202 Accepted")

            victim = wait_for(lambda: busy_worker(client), "a worker holding a task")
            held = victim["in_flight"][0]
            print(f"3. GET /dashboard/state: {victim['worker_id']} (pid {victim['pid']}) "
                  f"holds task {held[:8]}")
            killed_at = time.time()
            os.kill(victim["pid"], signal.SIGKILL)
            print(f"4. kill -9 {victim['pid']}")

            wait_for(lambda: all_finished(client), "every task to finish")
            rows = [client.get(f"/tasks/{task_id}").json() for task_id in ids]
            statuses = Counter(row["status"] for row in rows)
            print(f"5. GET /stats until all finished; GET /tasks/{{id}} x{TASKS}: "
                  + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())))

            events = queue.events(None)
            requeued = next((e for e in events if e.name == "requeued"
                             and e.task_id == held), None)
            if requeued is not None:
                print(f"   the reaper requeued task {held[:8]} {requeued.ts - killed_at:.1f} s "
                      f"after the kill (the heartbeat's TTL had to run out first)")
            claims = [e.fields.get("worker", "?") for e in events
                      if e.name == "claimed" and e.task_id == held]
            row = next(row for row in rows if row["id"] == held)
            print(f"   task {held[:8]}: claimed by {' then '.join(claims)}; now {row['status']} "
                  f"after {row['attempts']} attempt{'s' if row['attempts'] != 1 else ''}, "
                  f"on {row['worker_id']}")
            completions = Counter(e.task_id for e in events if e.name == "completed")
            once = sum(completions[task_id] == 1 for task_id in ids)
            print(f"6. completed events per task: exactly one for {once} of {TASKS} tasks; "
                  f"conservation {'holds' if queue.conservation().holds else 'BROKEN'}")
            lost = [e.fields.get("worker") for e in events if e.name == "worker_lost"]
            print(f"   workers lost: {', '.join(filter(None, lost)) or 'none'} "
                  f"(serve does not start a replacement: one worker is left)")
            return 0 if once == TASKS and statuses.get("completed") == TASKS else 1
    finally:
        queue.clear()
        queue.close()


if __name__ == "__main__":
    sys.exit(main())
