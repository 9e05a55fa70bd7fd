"""Demo: 200 e-mails through a real SMTP server, at a rate limit the whole fleet keeps.

    python session9_operations/demos/bulk_email.py                    (from the repository)
    python demos/bulk_email.py --count 200 --rate 20/s --workers 2    (from session9_operations/)

The original course's bulk e-mail: "at most N a minute, to avoid an SMTP ban", with
progress. A local SMTP server (``aiosmtpd``, on loopback) receives the messages; two
worker processes (``OperationsWorker``) send them and share one limit kept in Redis.
The messages are one session 8 workflow, a ``group`` of one ``email`` task per
message, on a queue that is both this session's and session 8's
(``WorkflowOperationsQueue``): each message sent moves the workflow's
``workflow_progress`` event one step, and session 6's dashboard draws it as one bar,
"n / 200". Progress is printed every second, as the bar reads it; at the end, the
most messages the server received in any window of the limit's length, against the
limit, and how long the bar took against the least the limit allows.

The default rate is 20 a second so that the demo takes ten seconds; ``--rate 10/m``
is the real thing (and twenty minutes).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import threading
import time
from collections import Counter

from aiosmtpd.controller import Controller

from session5_recovery.demos.support import fresh_queue, wait_for
from session5_recovery.workers import RecoverySettings
from session8_workflows.workflows import group
from session9_operations.handlers import HANDLERS, operations_handlers
from session9_operations.mail import HOST_ENV, PORT_ENV
from session9_operations.operations_queue import WorkflowOperationsQueue
from session9_operations.process_entry import run_operations_worker
from session9_operations.ratelimit import RateLimit, RateLimiter, max_starts_in_any_window

QUEUE_NAME = "demo_bulk_email"
SETTINGS = RecoverySettings(heartbeat_interval=0.5, heartbeat_ttl=3.0, reap_interval=0.05,
                            claim_timeout=0.5)


class Mailbox:
    """The SMTP server's side: every message received, with its time and task id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[float, str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        task_id = ""
        for line in envelope.content.decode("utf-8", "replace").splitlines():
            if line.lower().startswith("x-task-id:"):
                task_id = line.split(":", 1)[1].strip()
        with self.lock:
            self.received.append((time.time(), task_id))
        return "250 OK"


class BarReader:
    """The workflow's bar as session 6's dashboard draws it: from the queue's event stream.

    ``workflow_started`` gives the total (the bar at 0 / total), each
    ``workflow_progress`` event the next ``done``; ``workflow_completed`` ends it.
    """

    def __init__(self, queue: WorkflowOperationsQueue, workflow_id: str) -> None:
        self.queue, self.workflow_id = queue, workflow_id
        self.after = "0-0"
        self.steps: list[tuple[float, int, int]] = []  # (time, done, total), as they came
        self.completed = False

    def read(self) -> tuple[int, int]:
        """Read the events written since the last call; the bar's (done, total) now."""
        for event in self.queue.events(None, after=self.after):
            self.after = event.id
            if event.fields.get("workflow") != self.workflow_id:
                continue
            if event.name == "workflow_started":
                self.steps.append((event.ts, 0, int(event.fields["nodes"])))
            elif event.name == "workflow_progress":
                self.steps.append((event.ts, int(event.fields["done"]),
                                   int(event.fields["total"])))
            elif event.name == "workflow_completed":
                self.completed = True
        return self.steps[-1][1:] if self.steps else (0, 0)

    def finished(self) -> bool:
        self.read()
        return self.completed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--rate", default="20/s", help="COUNT/WINDOW, e.g. 20/s or 10/m")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8025, help="the SMTP server's port")
    args = parser.parse_args(argv)
    limit = RateLimit.parse(args.rate)

    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=args.port)
    smtp.start()
    target, plain = fresh_queue(QUEUE_NAME, SETTINGS)
    plain.close()
    queue = WorkflowOperationsQueue(url=target.url, queue_name=QUEUE_NAME, settings=SETTINGS)
    limiter = RateLimiter(queue)
    limiter.set("email", limit)
    os.environ[HOST_ENV], os.environ[PORT_ENV] = "127.0.0.1", str(args.port)
    mailing = group([{"type": "email", "to": f"user{i}@example.com",
                      "subject": f"Newsletter #{i}", "body": "Hello from the workshop."}
                     for i in range(args.count)])
    workflow_id = queue.workflows.start(mailing, on_failure="continue",
                                        known_types=operations_handlers().names())
    ids = [queue.workflows.task_id(workflow_id, name) for name in queue.workflows.spec(workflow_id)]
    bar = BarReader(queue, workflow_id)
    print(f"SMTP server on 127.0.0.1:{args.port}; {args.count} e-mails queued as workflow "
          f"{workflow_id} (one bar on the dashboard); limit {limit.limit} per {limit.per:g} s "
          f"for the whole fleet; {args.workers} workers")
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=run_operations_worker,
                           args=(f"mailer-{i + 1}", target.url, QUEUE_NAME),
                           kwargs={"burst": True, "settings": SETTINGS.to_dict(),
                                   "handlers": HANDLERS, "workflows": True})
               for i in range(args.workers)]
    started = time.time()

    def report() -> int:
        done, total = bar.read()
        print(f"  {time.time() - started:5.1f} s  bar {done:4d}/{total}  "
              f"received {len(mailbox.received):4d}  "
              f"waiting for a slot: {queue.get_stats()['delayed']:4d}", flush=True)
        return done

    shown = 0
    try:
        for worker in workers:
            worker.start()
        while any(worker.is_alive() for worker in workers):
            time.sleep(1.0)
            shown = report()
        wait_for(lambda: len(mailbox.received) >= args.count, 10, "the last messages")
        wait_for(bar.finished, 10, "the workflow's end")
        if shown < args.count:  # the last message went after the last line: show the full bar
            report()
    finally:
        for worker in workers:
            worker.join(10)
        smtp.stop()
    times = [at for at, _ in mailbox.received]
    copies = Counter(task_id for _, task_id in mailbox.received)
    most = max_starts_in_any_window(times, limit.per)
    span = max(times) - min(times)
    # The first window's worth goes at once; the rate after it is what the limit allows.
    steady = (len(times) - limit.limit) / max(span, 1e-9)
    print(f"received {len(times)} messages for {len(copies)} tasks "
          f"({sum(n - 1 for n in copies.values())} duplicates), all {len(ids)} queued: "
          f"{set(copies) == set(ids)}")
    # The limiter admits at most `limit` per window; a message reaches the server a few
    # milliseconds after its admission, by a lag that varies, so at the server a window
    # can hold one or two more. Against a provider's limit, keep a margin below it.
    print(f"most received by the server in any {limit.per:g} s: {most} (limit {limit.limit}, "
          f"enforced at admission); "
          f"after the first window {steady:.2f} per second (limit "
          f"{limit.limit / limit.per:.2f} per second: {steady / (limit.limit / limit.per):.0%})")
    dones = [done for _, done, _ in bar.steps]
    totals = sorted({total for _, _, total in bar.steps})
    bar_span = bar.steps[-1][0] - bar.steps[0][0]
    # The limiter's log is a sliding window: N admissions span at least
    # (N - 1) // limit windows, and the bar starts before the first and ends after the last.
    least = (args.count - 1) // limit.limit * limit.per
    print(f"the bar (workflow_progress events): {dones[0]} to {dones[-1]} of "
          f"{'/'.join(map(str, totals))}, one step at a time: "
          f"{dones == list(range(args.count + 1))}; workflow_completed: {bar.completed}")
    print(f"the bar took {bar_span:.2f} s; the limit allows no less than {least:g} s: "
          f"{bar_span >= least}")
    queue.clear()
    limiter.remove("email")  # the limit and its window live beside the queue's keys
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
