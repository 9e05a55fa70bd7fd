"""Demo: the dual-write bug, then the outbox surviving the same kills.

    python session6_api/demos/demo_dual_write.py      (from the repository)
    python demos/demo_dual_write.py                   (from session6_api/)

A producer that writes a task to the database AND pushes it to Redis is killed
(SIGKILL, by itself, at an exact step) between the two writes, four times:

1. naive "INSERT, push, COMMIT", killed after the push: a ghost in Redis;
2. naive "INSERT, COMMIT, push", killed after the commit: an orphan row;
3. outbox, killed after the commit: the relay pushes it later;
4. the relay itself, killed after its push and before marking the row sent:
   the next relay pushes again, Redis refuses the duplicate id, one task.

Uses the database from DATABASE_URL (default: a SQLite file under
output/session6/demo_dual_write/) and its own queue name on the resolved Redis.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import uuid

from session6_api.config import DATA_DIR, ApiConfig, default_database_url
from session6_api.services import open_queue, open_store
from session6_api.teaching import dual_write
from workshop.redis_connection import RedisUnavailableError, resolve_redis

FOLDER = DATA_DIR / "demo_dual_write"


def run_child(target, *args) -> str:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    process.join(120)
    return "killed by SIGKILL" if process.exitcode == -signal.SIGKILL else f"exit {process.exitcode}"


def show(config: ApiConfig, task_id: str, label: str) -> None:
    where = dual_write.where_is(config, task_id)
    print(f"    {label:<34} database: {str(where['database']):<8} redis: "
          f"{str(where['redis']):<8} outbox: {', '.join(where['outbox']) or '-'}")


def main() -> int:
    try:
        target = resolve_redis(announce=True)
    except RedisUnavailableError as error:
        print(error)
        return 1
    shutil.rmtree(FOLDER, ignore_errors=True)
    config = ApiConfig(redis_url=target.url,
                       database_url=os.environ.get("DATABASE_URL") or default_database_url(FOLDER),
                       queue_name=f"demo_dual_write_{uuid.uuid4().hex[:6]}", data_dir=FOLDER,
                       table_prefix="demo_dual_write_", background=False)
    values = dual_write.config_values(config)
    store = open_store(config)
    store.drop_schema()
    store.create_schema()
    try:
        print("\n1. naive: INSERT, push to Redis, COMMIT; killed after the push")
        ghost = dual_write.new_task_id()
        print(f"    producer: {run_child(dual_write.naive_push_then_commit, values, ghost, 'push')}")
        show(config, ghost, "a GHOST: Redis has it, no row")

        print("\n2. naive: INSERT, COMMIT, push to Redis; killed after the commit")
        orphan = dual_write.new_task_id()
        print(f"    producer: {run_child(dual_write.naive_commit_then_push, values, orphan, 'commit')}")
        show(config, orphan, "an ORPHAN: a row nothing will run")

        print("\n3. outbox: INSERT task + outbox row, COMMIT; killed after the commit")
        task = dual_write.new_task_id()
        print(f"    producer: {run_child(dual_write.outbox_producer, values, task, 'commit')}")
        show(config, task, "accepted, not yet in Redis")

        print("\n4. the relay pushes, and is killed before it marks the row sent")
        print(f"    relay:    {run_child(dual_write.relay_once, values, 'push')}")
        show(config, task, "in Redis, row still unsent")
        print(f"    relay:    {run_child(dual_write.relay_once, values, None)} "
              f"(pushed again: Redis refused the duplicate id)")
        show(config, task, "in Redis once, row sent")
        queue = open_queue(config)
        print(f"\n    Redis holds {queue.get_stats()['enqueued']} tasks in all: the ghost of "
              f"scenario 1 and the outbox task, once. The orphan will wait forever.")
        queue.clear()
        queue.close()
    finally:
        store.drop_schema()
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
