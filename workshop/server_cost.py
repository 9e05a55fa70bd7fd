"""What one session 5 task costs the server, in instructions: ``python -m workshop.server_cost``.

``make bench`` reads the server's CPU time, which on a shared or virtual machine moves
by half from one minute to the next (the host's other work, caches, clock speed).
This counts instructions instead: a private ``redis-server`` runs under
``valgrind --tool=callgrind``, one worker drains no-op tasks, and the server's
instructions over the drain are divided by the tasks. The same code gives the same
count whatever else the machine is doing, so two versions of the queue can be
compared by running this on each. Slow (valgrind runs the server about 50 times
slower): a few hundred tasks are enough.

Needs ``valgrind`` (with ``callgrind_control``) and ``redis-server`` on the PATH.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

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


def instructions_per_task(url: str, pid: int, folder: Path, prefetch: int, tasks: int) -> float:
    """One drain of ``tasks`` no-op tasks at ``prefetch``: the server's instructions per task."""
    from session5_recovery.workers import RecoverySettings, RedisTaskQueue, run_worker_process

    settings = {"events_maxlen": 4 * tasks + 1000}
    queue = RedisTaskQueue(url=url, queue_name=f"cost-{uuid.uuid4().hex[:8]}",
                           settings=RecoverySettings(**settings))
    try:
        queue.add_tasks([{"type": "noop"}] * 20)  # a first drain loads the scripts
        run_worker_process("cost-worker", url, queue.queue_name, True, prefetch=prefetch,
                           settings=settings)
        queue.add_tasks([{"type": "noop"}] * tasks)
        for dump in folder.glob("callgrind.*"):
            dump.unlink()
        subprocess.run(["callgrind_control", "--zero", str(pid)], check=True,
                       capture_output=True)
        counts = run_worker_process("cost-worker", url, queue.queue_name, True,
                                    prefetch=prefetch, settings=settings)
        subprocess.run(["callgrind_control", "--dump", str(pid)], check=True,
                       capture_output=True)
        if counts["completed"] != tasks:
            raise RuntimeError(f"the worker completed {counts['completed']} of {tasks} tasks")
        dumps = sorted(folder.glob(f"callgrind.{pid}.*"))
        return total_instructions(dumps[-1]) / tasks
    finally:
        queue.clear()
        queue.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workshop.server_cost",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=300, help="tasks per drain (default 300)")
    parser.add_argument("--prefetch", type=int, nargs="+", default=[1, 10],
                        help="prefetch sizes to measure (default: 1 10)")
    parser.add_argument("--port", type=int, default=7390, help="the private server's port")
    args = parser.parse_args(argv)
    if missing := missing_tools():
        print(f"server_cost needs {', '.join(missing)} on the PATH (Debian: apt-get install "
              f"valgrind redis-server)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="workshop-callgrind-") as name:
        folder = Path(name)
        with server_under_callgrind(args.port, folder) as (url, pid):
            print(f"session 5, one worker process, {args.tasks} no-op tasks per drain, "
                  f"redis-server under callgrind")
            for prefetch in args.prefetch:
                cost = instructions_per_task(url, pid, folder, prefetch, args.tasks)
                print(f"  prefetch {prefetch:>3}: {cost:>9,.0f} server instructions per task")
    return 0


if __name__ == "__main__":
    sys.exit(main())
