"""Limits on one task: how long its handler may run, and what it may leave behind.

A handler that never returns (a hung network call, an endless loop) would hold
its worker for ever, and the heartbeat thread keeps saying "alive", so the reaper
never steps in. So each attempt gets a time limit (a default in the settings,
per task type in the registry); when it is up, the handler is interrupted with
``TaskTimeLimitExceeded``, and the attempt counts as failed like any other
error: it is retried with backoff, or dead-lettered after ``max_attempts``.

How the interruption works, and where it cannot reach:

- in the main thread (a worker process, the CLI) a ``SIGALRM`` timer raises the
  error: it even interrupts ``time.sleep`` and most blocking calls (unless some
  other code already armed that timer, pytest-timeout for example: then the
  watchdog below is used instead, so the two never fight over one alarm);
- in any other thread (tests, notebooks) a watchdog thread raises it in the
  worker's thread with ``PyThreadState_SetAsyncExc``, the way Dramatiq does. That
  lands between two Python bytecodes, so a handler stuck inside one long C call
  is stopped only when that call returns;
- a handler that catches every exception (``except BaseException``) can swallow
  it; ours do not.

Child processes a handler started (``subprocess.Popen``...) are found through
``/proc`` (Linux) and killed when their handler timed out and when the worker
stops, so none outlives the worker. A worker killed with SIGKILL gets no chance
to do this; see the README's limitations.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from .handlers import TransientTaskError


class TaskTimeLimitExceeded(TransientTaskError):
    """The handler ran longer than its time limit; the attempt failed (retried as usual)."""


def time_limit(seconds: float | None, what: str = "the task") -> AbstractContextManager[None]:
    """Raise ``TaskTimeLimitExceeded`` in this thread if the block runs longer than ``seconds``.

    ``None`` means no limit. (A function that picks a context manager rather than a
    generator: a worker enters one per task, and the usual path, the alarm, is a
    small class that does no more than arm and disarm the timer.)
    """
    if seconds is None:
        return nullcontext()
    in_main = threading.current_thread() is threading.main_thread()
    if in_main and hasattr(signal, "setitimer") and signal.getitimer(signal.ITIMER_REAL)[0] == 0:
        return _Alarm(seconds, what)  # nobody else's alarm is armed: use it
    message = _exceeded(what, seconds)
    if in_main and hasattr(signal, "SIGUSR1") and signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL:
        return _watchdog(seconds, message, wake_signal=signal.SIGUSR1)
    return _watchdog(seconds, message)


def _exceeded(what: str, seconds: float) -> str:
    return f"{what} ran longer than its time limit of {seconds:g} s and was interrupted"


# The alarm's handler is installed once and stays (installing one costs more than the
# alarm itself, and a worker runs thousands of tasks). Main thread only, so no lock.
_armed: _Alarm | None = None  # the alarm of the block that runs now, if any
_handler_before: object = None  # what SIGALRM did before us: called when we are not armed


def _on_alarm(signum: int, frame: object) -> None:
    if _armed is not None:
        raise TaskTimeLimitExceeded(_exceeded(_armed.what, _armed.seconds))
    if callable(_handler_before):
        _handler_before(signum, frame)  # not ours: hand it on


class _Alarm:
    """``SIGALRM`` after ``seconds`` (the message is written only if it fires)."""

    __slots__ = ("seconds", "what")

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds, self.what = seconds, what

    def __enter__(self) -> None:
        global _armed, _handler_before
        if signal.getsignal(signal.SIGALRM) is not _on_alarm:
            _handler_before = signal.signal(signal.SIGALRM, _on_alarm)
        _armed = self
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc_info: object) -> None:
        global _armed
        _armed = None  # first: a late alarm must not hit the worker's own code
        signal.setitimer(signal.ITIMER_REAL, 0)


@contextmanager
def _watchdog(seconds: float, message: str, wake_signal: int | None = None) -> Iterator[None]:
    """A thread that interrupts this one after ``seconds``.

    With ``wake_signal`` (main thread only) it sends that signal, whose handler
    raises: a signal also wakes a blocking wait. Otherwise it plants the exception
    with ``PyThreadState_SetAsyncExc``, which lands at the next Python step.
    """
    target = threading.get_ident()
    done = threading.Event()
    lock = threading.Lock()  # the block ends, or the watchdog fires: never both
    fired = False

    def watch() -> None:
        nonlocal fired
        if done.wait(seconds):
            return
        with lock:
            if done.is_set():
                return
            fired = True
            if wake_signal is not None:
                signal.pthread_kill(target, wake_signal)
            else:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(target), ctypes.py_object(_TimeLimitInThread))

    def on_signal(signum: int, frame: object) -> None:
        if not done.is_set():
            raise _TimeLimitInThread()

    previous = signal.signal(wake_signal, on_signal) if wake_signal is not None else None
    watchdog = threading.Thread(target=watch, name="task-time-limit", daemon=True)
    watchdog.start()
    try:
        try:
            yield
        except _TimeLimitInThread:
            raise TaskTimeLimitExceeded(message) from None
    finally:
        with lock:
            done.set()
        if wake_signal is not None:
            watchdog.join()
            signal.signal(wake_signal, previous)
        elif fired:
            # The exception may still be pending if the block ended at that instant; clear it.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), None)
        watchdog.join()


class _TimeLimitInThread(Exception):
    """What the watchdog raises (the C API takes a class, not an instance with a message)."""


# --- child processes -------------------------------------------------------------------


def _parent_map() -> dict[int, list[int]]:
    """parent pid -> child pids, from every /proc/<pid>/stat (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended while we looked
        # "pid (name) state ppid ...": the name may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[0] != "Z":  # a zombie is already dead
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def descendant_pids(pid: int | None = None) -> list[int]:
    """Every living process below ``pid`` (default: this one), children first; [] without /proc.

    It reads every process's /proc entry (a few ms), so a worker calls it only when a
    task timed out and when it stops, never once per task.
    """
    if not sys.platform.startswith("linux") or not Path("/proc").is_dir():
        return []
    children = _parent_map()
    found, todo = [], [os.getpid() if pid is None else pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_processes(pids: list[int] | set[int]) -> list[int]:
    """SIGKILL the processes ``pids`` that are still below this one; the pids killed.

    Only descendants: a pid that ended may have been reused by an unrelated process.
    """
    alive = set(descendant_pids())
    killed = []
    for pid in sorted(set(pids) & alive):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except (ProcessLookupError, PermissionError):
            continue
    for pid in killed:  # collect our own children, so no zombie is left
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return killed
