"""What one session 5 task costs, in instructions: ``python -m workshop.server_cost``.

``make bench`` reads the server's CPU time, which on a shared or virtual machine moves
by half from one minute to the next (the host's other work, caches, clock speed).
This counts instructions instead: a private ``redis-server`` and one worker process
both run under ``valgrind --tool=callgrind``, the worker drains no-op tasks, and each
side's instructions over the drain are divided by the tasks. The same code gives the
same counts whatever else the machine is doing, so two versions of the queue (or of
the worker) can be compared by running this on each. Slow (valgrind runs a program
about 50 times slower): a few hundred tasks are enough.

Needs ``valgrind`` (with ``callgrind_control``) and ``redis-server`` on the PATH.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .redis_connection import ping

NEEDED = ("valgrind", "callgrind_control", "redis-server")


def missing_tools() -> list[str]:
    return [tool for tool in NEEDED if shutil.which(tool) is None]


def total_instructions(dump: Path) -> int:
    """The instructions a callgrind dump counted (its ``summary:`` line)."""
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise ValueError(f"{dump} has no 'summary:' line: is it a callgrind output file?")


@contextmanager
def server_under_callgrind(port: int, folder: Path) -> Iterator[tuple[str, int]]:
    """(url, valgrind's pid) of a redis-server counted by callgrind; shut down on exit."""
    process = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/callgrind.%p",
         "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 60  # valgrind starts slowly
        while not ping(url):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("redis-server did not start under valgrind")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)


def _callgrind(command: str, pid: int) -> None:
    subprocess.run(["callgrind_control", command, str(pid)], check=True, capture_output=True)


def _newest_count(folder: Path, pid: int) -> int:
    return total_instructions(sorted(folder.glob(f"callgrind.{pid}.*"))[-1])


def instructions_per_task(url: str, pid: int, folder: Path, prefetch: int,
                          tasks: int) -> tuple[float, float]:
    """One drain of ``tasks`` no-op tasks at ``prefetch``: (server, worker) instructions per task.

    The worker is a process of its own under callgrind (``--worker-child``): it drains
    a few tasks first (imports, first calls), says "ready", drains the measured tasks
    when told "go", and says "done" with its counts.
    """
    from session5_recovery.workers import RecoverySettings, RedisTaskQueue

    # The periodic chores (heartbeat, reaper, stray check) once a minute: what is
    # counted is the work per task, not chores that would come round more often per
    # task the slower valgrind makes the drain.
    settings = {"events_maxlen": 4 * tasks + 1000, "heartbeat_interval": 30.0,
                "heartbeat_ttl": 120.0, "reap_interval": 60.0}
    queue = RedisTaskQueue(url=url, queue_name=f"cost-{uuid.uuid4().hex[:8]}",
                           settings=RecoverySettings(**settings))
    child = None
    try:
        # The worker's first drain (imports, the scripts loaded, first calls) is not counted.
        queue.add_tasks([{"type": "noop"}] * 20)
        child = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/callgrind.%p",
             sys.executable, "-m", "workshop.server_cost", "--worker-child", url,
             queue.queue_name, str(prefetch), json.dumps(settings)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert child.stdin is not None and child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the worker process under valgrind did not start")
        queue.add_tasks([{"type": "noop"}] * tasks)
        for dump in folder.glob("callgrind.*"):
            dump.unlink()
        _callgrind("--zero", pid)
        _callgrind("--zero", child.pid)
        child.stdin.write("go\n")
        child.stdin.flush()
        said = child.stdout.readline().split(maxsplit=1)
        _callgrind("--dump", pid)
        _callgrind("--dump", child.pid)
        if said[:1] != ["done"] or json.loads(said[1])["completed"] != tasks:
            raise RuntimeError(f"the worker did not complete the {tasks} tasks: {said}")
        return _newest_count(folder, pid) / tasks, _newest_count(folder, child.pid) / tasks
    finally:
        if child is not None:
            child.kill()
            child.wait(timeout=60)
        queue.clear()
        queue.close()


def worker_child(url: str, queue_name: str, prefetch: int, settings: dict[str, Any]) -> None:
    """The measured worker: a first drain, "ready", one drain on "go", then its counts."""
    from session5_recovery.workers import run_worker_process

    run_worker_process("cost-worker", url, queue_name, True, prefetch=prefetch, settings=settings)
    print("ready", flush=True)
    sys.stdin.readline()
    counts = run_worker_process("cost-worker", url, queue_name, True, prefetch=prefetch,
                                settings=settings)
    print("done", json.dumps(counts), flush=True)
    sys.stdin.readline()  # stay until the parent has read our count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workshop.server_cost",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=300, help="tasks per drain (default 300)")
    parser.add_argument("--prefetch", type=int, nargs="+", default=[1, 10],
                        help="prefetch sizes to measure (default: 1 10)")
    parser.add_argument("--port", type=int, default=7390, help="the private server's port")
    parser.add_argument("--worker-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_child:
        url, queue_name, prefetch, settings = args.worker_child
        worker_child(url, queue_name, int(prefetch), json.loads(settings))
        return 0
    if missing := missing_tools():
        print(f"server_cost needs {', '.join(missing)} on the PATH (Debian: apt-get install "
              f"valgrind redis-server)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="workshop-callgrind-") as name:
        folder = Path(name)
        with server_under_callgrind(args.port, folder) as (url, pid):
            print(f"session 5, one worker process, {args.tasks} no-op tasks per drain, "
                  f"redis-server and the worker under callgrind; instructions per task:")
            for prefetch in args.prefetch:
                server, worker = instructions_per_task(url, pid, folder, prefetch, args.tasks)
                print(f"  prefetch {prefetch:>3}: server {server:>9,.0f}   worker {worker:>9,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
