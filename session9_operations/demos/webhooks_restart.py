"""Demo: webhooks delivered at least once while the receiver is killed and restarted.

    python session9_operations/demos/webhooks_restart.py              (from the repository)
    python demos/webhooks_restart.py --port 8081                      (from session9_operations/)

30 tasks that succeed and 5 that fail for good, each with a ``webhook_url`` pointing at
a receiver on loopback (receiver.py: it verifies signatures, drops duplicates, keeps a
ledger). Two worker processes run them and queue one signed delivery per ending. After
a few deliveries the receiver is killed with SIGKILL: deliveries fail (connection
refused) and wait in the delayed set for their retry. The receiver is started again,
and every webhook arrives. Then a forged delivery (wrong secret) and a replayed one
(an old timestamp) are sent by hand: both are refused with 401.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import time
from collections import Counter

import httpx

from session5_recovery.demos.support import redis_for_processes, wait_for
from session5_recovery.workers import RecoverySettings
from session9_operations.handlers import HANDLERS
from session9_operations.operations_queue import OperationsQueue
from session9_operations.process_entry import run_operations_worker
from session9_operations.receiver import read_received, start_receiver_process
from session9_operations.webhooks import (
    ALLOWED_HOSTS_ENV,
    ID_HEADER,
    SECRET_ENV,
    SIGNATURE_HEADER,
    TIMEOUT_ENV,
    delivery_id_for,
    encode_body,
    signature_header,
)
from workshop.paths import OUTPUT_DIR

QUEUE_NAME = "demo_webhooks"
SETTINGS = RecoverySettings(heartbeat_interval=0.5, heartbeat_ttl=3.0, reap_interval=0.1,
                            claim_timeout=0.5, backoff_base=0.3, backoff_cap=2.0, max_attempts=20)
FOLDER = OUTPUT_DIR / "session9"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8081, help="the receiver's port")
    args = parser.parse_args(argv)
    target = redis_for_processes()
    if target is None:
        return 1
    os.environ.setdefault(SECRET_ENV, "demo-secret")
    os.environ[ALLOWED_HOSTS_ENV] = "127.0.0.1"
    os.environ[TIMEOUT_ENV] = "1"
    queue = OperationsQueue(url=target.url, queue_name=QUEUE_NAME, settings=SETTINGS)
    queue.clear()
    FOLDER.mkdir(parents=True, exist_ok=True)
    ledger = FOLDER / "received.jsonl"
    ledger.unlink(missing_ok=True)
    url = f"http://127.0.0.1:{args.port}/hook"
    ok = queue.add_tasks([{"type": "sleep", "seconds": 0.1, "webhook_url": url}] * 30)
    doomed = queue.add_tasks([{"type": "fail", "webhook_url": url}] * 5, max_attempts=1)
    receiver = start_receiver_process(args.port, ledger)
    print(f"receiver on {url}; 35 tasks with a webhook; 2 workers")
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=run_operations_worker,
                           args=(f"worker-{i + 1}", target.url, QUEUE_NAME),
                           kwargs={"settings": SETTINGS.to_dict(), "handlers": HANDLERS})
               for i in range(2)]
    try:
        for worker in workers:
            worker.start()
        wait_for(lambda: len(read_received(ledger)) >= 5, 60, "the first deliveries")
        receiver.send_signal(signal.SIGKILL)
        receiver.wait()
        print(f"  receiver killed (kill -9) after {len(read_received(ledger))} deliveries")
        wait_for(lambda: queue.get_stats()["delayed"] > 0, 60, "a delivery waiting to retry")
        time.sleep(2.0)  # a moment with the receiver down, for the retries to show
        print(f"  while it is down: {queue.get_stats()['delayed']} deliveries wait for their retry")
        receiver = start_receiver_process(args.port, ledger)
        print("  receiver restarted")
        expected = {delivery_id_for(t) for t in ok + doomed}
        wait_for(lambda: expected <= {e["delivery_id"] for e in read_received(ledger)}, 60,
                 "every delivery")
        secret = os.environ[SECRET_ENV]
        body = encode_body({"task_id": "forged", "status": "completed"})
        stamp = int(time.time())
        forged = httpx.post(url, content=body, headers={
            ID_HEADER: "whk-forged", SIGNATURE_HEADER: signature_header("wrong", stamp, body)})
        replayed = httpx.post(url, content=body, headers={
            ID_HEADER: "whk-old", SIGNATURE_HEADER: signature_header(secret, stamp - 600, body)})
        print(f"  forged signature: {forged.status_code} {forged.text}")
        print(f"  replay 10 minutes old: {replayed.status_code} {replayed.text}")
    finally:
        for worker in workers:
            if worker.pid:
                os.kill(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.join(20)
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(10)
    entries = read_received(ledger)
    kinds = Counter(e["kind"] for e in entries)
    statuses = Counter(e["status"] for e in entries if e["kind"] == "accepted")
    attempts = [queue.get_task_info(delivery_id_for(t)).attempts for t in ok + doomed]
    print(f"delivered: {kinds['accepted']} of 35 ({statuses['completed']} completed, "
          f"{statuses['dead_lettered']} dead-lettered), duplicates dropped: {kinds['duplicate']}")
    ids_per_task = Counter(len({e["delivery_id"] for e in entries if e["task_id"] == t})
                           for t in ok + doomed)
    print(f"delivery attempts: {sum(attempts)} for 35 deliveries (most for one: {max(attempts)})")
    print(f"every task has exactly one delivery id, on every copy: {ids_per_task == Counter({1: 35})}")
    queue.clear()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
