"""Start, kill and replace worker processes: what systemd, supervisord or Kubernetes do.

The demos and tests need several workers as real processes, so that a
``kill -9`` kills one worker and nothing else. ``WorkerFleet`` starts them with
``multiprocessing`` (``spawn`` by default, as on macOS and Windows), waits until
each one has registered (no sleeping and hoping), and can replace the ones
that died, the way a process supervisor restarts a crashed service.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..workers.process_entry import run_worker_process
from ..workers.settings import RecoverySettings


@dataclass
class Replacement:
    """A dead worker and the one started in its place."""

    dead: str
    exitcode: int | None
    new: str


class WorkerFleet:
    """Worker processes for one queue; ``start(3)``, ``kill("worker-2")``, ``replace_dead()``.

    Each process runs ``worker_entry`` (session 5's ``run_worker_process``). A later
    session whose workers do more (workflows, rate limits) subclasses the fleet and
    names its own entry, a module-level function with the same arguments, so that
    ``spawn`` can import it by name.
    """

    worker_entry: Callable[..., Any] = staticmethod(run_worker_process)

    def __init__(self, redis_url: str, queue_name: str, *, settings: RecoverySettings | None = None,
                 start_method: str = "spawn", allowed_dirs: Sequence[str | Path] | None = None,
                 verbose: bool = False, prefix: str = "worker", burst: bool = False,
                 handlers: str | None = None) -> None:
        """``redis_url``: a single server or any node of a Redis Cluster. ``handlers``:
        ``"package.module:function"`` returning the workers' HandlerRegistry (see
        ``run_worker_process``); default: the default handlers."""
        self.redis_url = redis_url
        self.queue_name = queue_name
        self.settings = settings or RecoverySettings()
        self.ctx = multiprocessing.get_context(start_method)
        self.allowed_dirs = [str(d) for d in allowed_dirs] if allowed_dirs else None
        self.verbose = verbose
        self.prefix = prefix
        self.burst = burst
        self.handlers = handlers
        self.processes: dict[str, Any] = {}  # worker id -> Process, in start order
        self._started = 0
        self._replaced: set[str] = set()  # dead workers already replaced

    def start(self, count: int = 1, *, timeout: float = 30.0) -> list[str]:
        """Start ``count`` workers and wait until every one has registered; their ids."""
        pending = []
        for _ in range(count):
            self._started += 1
            worker_id = f"{self.prefix}-{self._started}"
            ready = self.ctx.Event()
            process = self.ctx.Process(
                target=self.worker_entry, name=worker_id, daemon=True,
                args=(worker_id, self.redis_url, self.queue_name, self.burst),
                kwargs={"settings": self.settings.to_dict(), "allowed_dirs": self.allowed_dirs,
                        "verbose": self.verbose, "ready": ready, "handlers": self.handlers})
            process.start()
            self.processes[worker_id] = process
            pending.append((worker_id, ready))
        deadline = time.monotonic() + timeout
        for worker_id, ready in pending:
            if not ready.wait(max(0.0, deadline - time.monotonic())):
                raise RuntimeError(f"worker {worker_id} did not start within {timeout:.0f} s "
                                   f"(exit code {self.processes[worker_id].exitcode})")
        return [worker_id for worker_id, _ in pending]

    def pid(self, worker_id: str) -> int:
        return self.processes[worker_id].pid

    def alive(self) -> list[str]:
        return [w for w, p in self.processes.items() if p.is_alive()]

    def kill(self, worker_id: str, sig: int | None = None) -> None:
        """Send ``sig`` (default SIGKILL: no handler, no cleanup) to one worker.

        The default is looked up here, not in the signature: Windows has no
        ``signal.SIGKILL``, and a default argument is evaluated when the module is
        imported, so importing this module failed there. Without
        SIGKILL, ``Process.kill()`` (TerminateProcess on Windows) is the same blow.
        """
        process = self.processes[worker_id]
        if sig is None and not hasattr(signal, "SIGKILL"):
            process.kill()
            process.join(5)
            return
        sig = signal.SIGKILL if sig is None else sig
        os.kill(process.pid, sig)
        if sig == signal.SIGKILL:
            process.join(5)

    def replace_dead(self, *, keep_clean_exits: bool = False) -> list[Replacement]:
        """Start a new worker for every one that has died since the last call.

        ``keep_clean_exits``: a worker that exited with code 0 stopped on purpose
        (SIGTERM or Ctrl-C asked it to finish and leave): leave it gone. A long-running
        service wants that, or a Ctrl-C would race its supervisor into starting new
        workers while it shuts down; the demos, which never stop one on purpose, do not.
        """
        replaced = []
        for worker_id, process in list(self.processes.items()):
            if process.is_alive() or worker_id in self._replaced:
                continue
            process.join(0)  # reap it: no <defunct> child left behind
            self._replaced.add(worker_id)
            if keep_clean_exits and process.exitcode == 0:
                continue
            (new_id,) = self.start(1)
            replaced.append(Replacement(worker_id, process.exitcode, new_id))
        return replaced

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every live worker (finish the task, then stop); SIGKILL what is left after ``timeout``."""
        for process in self.processes.values():
            if process.is_alive():
                try:
                    if hasattr(signal, "SIGCONT"):  # a stopped process cannot handle SIGTERM
                        os.kill(process.pid, signal.SIGCONT)
                    process.terminate()
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5)

    def __enter__(self) -> WorkerFleet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
