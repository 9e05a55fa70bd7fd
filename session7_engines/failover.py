"""A Redis failover that loses work, made on purpose and counted.

Redis replication is asynchronous: the primary answers a write before any replica
has it. If the primary dies and a replica that was behind is promoted, the writes
it never received are gone, although every client was told "OK". For session 5's
queue that means two kinds of loss:

- tasks a producer was told were *accepted* (it got their ids) no longer exist;
- tasks a worker was told were *completed* are back in the queue and will run again.

``run_failover`` makes that happen with two ``redis-server`` processes it owns (a
primary and its replica on ports of their own): it enqueues and completes tasks,
cuts the replica off (pointed at a port where nobody listens: replication cut
short, as by a network partition), goes on writing to the primary, SIGKILLs the primary,
promotes the replica (``REPLICAOF NO ONE``), then asks the queue
where each task is. With ``wait_ms`` each write that matters is followed by
``WAIT 1 <ms>``: the client then learns whether a replica has the write, and only
a write a replica confirmed counts as acknowledged.

``wait_cost`` measures what ``WAIT`` costs on a healthy pair (a ratio, one run).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from session5_recovery.workers import RedisTaskQueue
from session5_recovery.workers.epoch import DATA_LOST_MESSAGE, QueueEpoch

QUEUE_NAME = "failover"
WORKER = "w1"


def free_port(low: int = 0, high: int = 0) -> int:
    """A port nobody listens on: from ``low..high`` if given, else one the OS picks."""
    candidates = range(low, high + 1) if low else [0]
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError(f"no free port in {low}-{high}")


class RedisProcess:
    """One ``redis-server`` we started (no persistence), and the signals we send it."""

    def __init__(self, port: int, workdir: Path, *args: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("this demo starts its own servers: install redis-server "
                               "(apt-get install redis-server, or brew install redis)")
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        log = open(workdir / f"redis-{port}.log", "wb")
        self.process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir), *args],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.client = redis.Redis.from_url(self.url, decode_responses=True)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if self.client.ping():
                    break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {port} did not start; see "
                                   f"{workdir}/redis-{port}.log")
            time.sleep(0.05)

    def signal(self, sig: int) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)

    def stop(self) -> None:
        self.signal(signal.SIGCONT)  # a stopped process cannot act on SIGKILL's cleanup
        self.signal(signal.SIGKILL)
        self.process.wait(10)
        self.client.close()


@contextlib.contextmanager
def primary_and_replica(ports: tuple[int, int] = (0, 0)) -> Iterator[tuple[RedisProcess,
                                                                          RedisProcess]]:
    """A primary and a replica that has caught up with it; both stopped on exit.

    ``ports`` is a range to take them from (both 0: ports the OS picks).
    """
    with tempfile.TemporaryDirectory(prefix="s7-failover-") as tmp:
        servers: list[RedisProcess] = []
        try:
            # No 5 s wait for more replicas before the first full sync (Redis's default).
            primary = RedisProcess(free_port(*ports), Path(tmp), "--repl-diskless-sync-delay", "0")
            servers.append(primary)
            replica = RedisProcess(free_port(*ports), Path(tmp), "--replicaof", "127.0.0.1",
                                   str(primary.port))
            servers.append(replica)
            # Ready when the primary counts the replica in WAIT: connected and acknowledging.
            deadline = time.monotonic() + 20
            while int(primary.client.execute_command("WAIT", 1, 100)) < 1:
                if time.monotonic() > deadline:
                    raise RuntimeError("the replica did not catch up with its primary in 20 s")
            yield primary, replica
        finally:
            for server in servers:
                server.stop()


@dataclass
class FailoverReport:
    """What the clients were told, and what the promoted replica still has."""

    wait_ms: int | None
    enqueued: int = 0
    acknowledged_enqueues: list[str] = field(default_factory=list)
    acknowledged_completions: list[str] = field(default_factory=list)
    unconfirmed_writes: int = 0  # WAIT said no replica had it: the client knows to resend
    lost_tasks: list[str] = field(default_factory=list)       # accepted, now gone
    undone_completions: list[str] = field(default_factory=list)  # completed, will run again
    epoch_verdict: str = ""

    @property
    def lost(self) -> int:
        """Acknowledged writes the promoted replica does not have."""
        return len(self.lost_tasks) + len(self.undone_completions)

    def lines(self) -> list[str]:
        mode = f"WAIT 1 {self.wait_ms} after each write" if self.wait_ms else "no WAIT"
        out = [f"{mode}: {len(self.acknowledged_enqueues)} enqueues and "
               f"{len(self.acknowledged_completions)} completions acknowledged; "
               f"{self.unconfirmed_writes} writes reported unconfirmed (to resend)",
               f"  after the failover: {len(self.lost_tasks)} accepted task(s) gone, "
               f"{len(self.undone_completions)} completed task(s) back in the queue "
               f"(they will run again): lost {self.lost}"]
        out.append("  " + epoch_words(self.epoch_verdict))
        return out


def epoch_words(verdict: str) -> str:
    """Session 5's epoch check, in plain words."""
    if verdict == "lost":
        return f"epoch check: lost. {DATA_LOST_MESSAGE}."
    return ("epoch check: " + verdict + ". The promoted replica had the queue's epoch, so "
            "session 5 sees nothing wrong: it notices a server that lost everything, not "
            "one that lost its last writes. Only the counts above show the loss.")


def _confirmed(client: redis.Redis, wait_ms: int | None) -> bool:
    """With ``wait_ms``: did a replica get every write made so far on this connection?"""
    return wait_ms is None or int(client.execute_command("WAIT", 1, wait_ms)) >= 1


def cut_replication(replica: RedisProcess) -> None:
    """Cut the replica off its primary, as a network partition would.

    It is told to follow a port where nobody listens: it keeps its data and stops
    receiving. (SIGSTOP is not enough on one machine: the primary's writes wait in
    the replica's socket buffer, and a resumed replica still reads them.)
    """
    replica.client.execute_command("REPLICAOF", "127.0.0.1", free_port())
    while replica.client.info("replication").get("master_link_status") == "up":
        time.sleep(0.01)


def run_failover(tasks: int = 20, before_cut: int = 5, after_cut: int = 5, *,
                 wait_ms: int | None = None, cut_before_first_write: bool = False,
                 ports: tuple[int, int] = (0, 0)) -> FailoverReport:
    """Enqueue ``tasks``, complete ``before_cut``; cut; complete and enqueue ``after_cut``
    more; kill the primary, promote the replica, count what was lost."""
    report = FailoverReport(wait_ms=wait_ms)
    with primary_and_replica(ports) as (primary, replica):
        # One connection: WAIT counts the writes made on the connection that calls it.
        client = redis.Redis.from_url(primary.url, decode_responses=True,
                                      single_connection_client=True)
        queue = RedisTaskQueue(client=client, queue_name=QUEUE_NAME)
        if cut_before_first_write:
            cut_replication(replica)
        epoch = QueueEpoch(queue, who=WORKER)
        epoch.check()

        def enqueue() -> None:
            task_id = queue.add_task({"type": "noop"}, task_id=f"t{report.enqueued}")
            report.enqueued += 1
            if _confirmed(client, wait_ms):
                report.acknowledged_enqueues.append(task_id)
            else:
                report.unconfirmed_writes += 1

        def complete_one() -> None:
            task = queue.get_task(WORKER, timeout=0)
            if task is None:
                raise RuntimeError("the queue ran out of tasks to complete")
            queue.mark_completed(task.id, {"ok": True}, worker_id=WORKER)
            if _confirmed(client, wait_ms):
                report.acknowledged_completions.append(task.id)
            else:
                report.unconfirmed_writes += 1

        for _ in range(tasks):
            enqueue()
        for _ in range(before_cut):
            complete_one()
        if not cut_before_first_write:
            client.execute_command("WAIT", 1, 5000)  # the replica has all of the above
            cut_replication(replica)
        for _ in range(after_cut):
            complete_one()
            enqueue()
        primary.signal(signal.SIGKILL)
        primary.process.wait(10)
        replica.client.execute_command("REPLICAOF", "NO", "ONE")  # the failover

        promoted = RedisTaskQueue(url=replica.url, queue_name=QUEUE_NAME)
        try:
            report.lost_tasks = [t for t in report.acknowledged_enqueues
                                 if not promoted.locate(t)]
            report.undone_completions = [t for t in report.acknowledged_completions
                                         if promoted.locate(t) not in ([], ["completed"])]
            survivor = QueueEpoch(promoted, who=WORKER)
            survivor.known = epoch.known  # what the worker remembered before the failover
            report.epoch_verdict = survivor.check()
        finally:
            promoted.close()
            client.close()
    return report


def wait_cost(rounds: int = 200, wait_ms: int = 1000,
              ports: tuple[int, int] = (0, 0)) -> dict[str, float]:
    """Tasks/s through enqueue, claim and complete, without and with WAIT after each
    write, on a healthy pair in one run; ``ratio`` = without / with."""
    rates: dict[str, float] = {}
    with primary_and_replica(ports) as (primary, _replica):
        client = redis.Redis.from_url(primary.url, decode_responses=True,
                                      single_connection_client=True)
        for mode, wait in (("without", None), ("with", wait_ms), ("without", None)):
            queue = RedisTaskQueue(client=client, queue_name=f"cost-{mode}-{len(rates)}")
            started = time.perf_counter()
            for _ in range(rounds):
                queue.add_task({"type": "noop"})
                _confirmed(client, wait)
                task = queue.get_task(WORKER, timeout=0)
                queue.mark_completed(task.id, None, worker_id=WORKER)
                _confirmed(client, wait)
            rate = rounds / (time.perf_counter() - started)
            rates[mode] = max(rates.get(mode, 0.0), rate)  # "without" twice: warm-up noise
        client.close()
    return {"without_per_s": round(rates["without"], 1), "with_per_s": round(rates["with"], 1),
            "ratio": round(rates["without"] / rates["with"], 2), "rounds": rounds}
