"""``serve``'s workers: they die with ``serve``, and ``serve`` replaces one that dies.

Two faults of a process that starts children:

- **The parent is killed** (``kill -9``, the OOM killer, a closed laptop
  terminal): nobody tells the children, they keep running as orphans and keep
  their worker ids, so the same ``serve`` command started again cannot start
  its own ``worker-1``. On Linux a child can ask the kernel to send it a signal
  when its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere a thread in the
  child watches its parent's pid. Either way the worker dies with ``serve``; its
  id is released after one heartbeat TTL, which the new worker waits out.
- **A worker dies** (``kill -9``, a poison task): ``serve`` notices within
  ``interval`` seconds and starts a new one with session 5's ``WorkerFleet``, as its
  flagship demo's supervisor does, and says so on its console. The dead worker's task
  is recovered by the reaper, as in session 5. A worker that stopped on purpose
  (exit code 0: Ctrl-C, SIGTERM) is not replaced.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
import threading
from multiprocessing.context import SpawnProcess
from typing import Any

from session5_recovery.tools import WorkerFleet

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
SUPERVISE_EVERY = 1.0  # seconds between two looks at the workers
PARENT_WATCH_EVERY = 1.0  # the fallback watch (not Linux)


def die_with_parent(parent_pid: int) -> None:
    """Make this process end when ``parent_pid`` does (call it first thing in the child)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    else:
        def watch() -> None:
            while os.getppid() == parent_pid:
                threading.Event().wait(PARENT_WATCH_EVERY)
            os._exit(1)
        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)


class DieWithParentProcess(SpawnProcess):
    """A spawned process that asks to die with the process that started it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parent_pid = os.getpid()  # pickled with the process object into the child

    def run(self) -> None:
        die_with_parent(self.parent_pid)
        super().run()


class DieWithParentContext:
    """The parts of a multiprocessing context ``WorkerFleet`` uses, with that Process."""

    Process = DieWithParentProcess

    def __init__(self) -> None:
        self._spawn = multiprocessing.get_context("spawn")

    def Event(self) -> Any:  # noqa: N802 (multiprocessing's own name)
        return self._spawn.Event()


def serve_fleet(redis_url: str, queue_name: str, allowed_dirs: list[Any]) -> WorkerFleet:
    """Session 5's fleet, whose workers die with this process."""
    fleet = WorkerFleet(redis_url, queue_name, allowed_dirs=allowed_dirs)
    fleet.ctx = DieWithParentContext()
    return fleet


class Supervisor:
    """A thread that replaces dead workers of ``fleet`` every ``interval`` seconds."""

    def __init__(self, fleet: WorkerFleet, interval: float = SUPERVISE_EVERY) -> None:
        self.fleet = fleet
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def halt(self) -> None:
        """Stop replacing, now (Ctrl-C: the workers are stopping on purpose); does not wait."""
        self._stop.set()

    def stop(self) -> None:
        """Stop replacing and wait for the thread (before stopping the fleet)."""
        self.halt()
        if self._thread.is_alive():
            self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.replace_crashed()
            except Exception as error:  # Redis down: the new worker cannot register yet
                log.warning("supervisor: could not replace a dead worker (%s); trying again", error)

    def replace_crashed(self) -> list[str]:
        """Start a worker in place of each one that died abnormally; the new ids.

        A worker that exited with code 0 stopped on purpose and is left gone
        (``WorkerFleet.replace_dead(keep_clean_exits=True)``); nothing is started once
        ``serve`` is stopping.
        """
        if self._stop.is_set():
            return []
        started = []
        for dead in self.fleet.replace_dead(keep_clean_exits=True):
            cause = ("killed by SIGKILL" if dead.exitcode == -signal.SIGKILL
                     else f"exit code {dead.exitcode}")
            started.append(dead.new)
            print(f"session6_api: {dead.dead} died ({cause}); started {dead.new} in its place",
                  flush=True)
        return started
