"""What a task means: one handler per task ``type``, and which errors are worth a retry.

A task's JSON data names its type (``"image"`` when it says nothing)::

    {"image_path": "in.jpg", "output_path": "out.png", "filters": ["blur:radius=2"]}
    {"type": "noop"}                          nothing: measures the queue itself
    {"type": "sleep", "seconds": 2}           slow work (``"busy": true`` spins the CPU instead)
    {"type": "fail", "times": 2}              fails its first 2 attempts, then succeeds (flaky)
    {"type": "crash"}                         kills its worker process (poison)
    {"type": "crash", "times": 1}             kills its worker once, then succeeds

The last three exist for demos and tests of recovery. A handler is a function
``handler(data, context) -> dict | None`` registered under its type name; add
your own with ``registry.register("resize")``.

Errors come in two kinds, and the worker treats them differently:

- *permanent*: retrying cannot help (a bad payload, an unknown filter or task
  type, a file that is not an image, a path outside the allowed folders).
  ``PermanentTaskError`` and session 2's ``PipelineInputError`` (with its
  subclasses) are permanent: the task goes straight to the dead-letter queue.
- everything else is *transient* (a network hiccup, a full disk, a flaky
  service): the task is retried later, with backoff, up to ``max_attempts``.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from session2_pipeline.core import (
    FilterFactory,
    FilterPipeline,
    PipelineInputError,
    UnsafePathError,
    resolve_inside,
)
from session2_pipeline.core.image_io import remove_debris

# The longest a "sleep" task may ask for: a typo such as 3600 should not hang a demo.
MAX_SLEEP_SECONDS = 600.0
# The exit code of a worker killed by a "crash" task (70: EX_SOFTWARE in sysexits.h).
CRASH_EXIT_CODE = 70


class PermanentTaskError(Exception):
    """Retrying cannot fix this task: send it to the dead-letter queue at once."""


class InvalidTaskError(PermanentTaskError, ValueError):
    """The task's data does not describe work a handler can do (a field is missing or wrong)."""


class UnknownTaskTypeError(PermanentTaskError, LookupError):
    """No handler is registered for the task's ``type``."""


class TransientTaskError(RuntimeError):
    """A failure that may go away: the kind a retry is for (the "fail" task raises it)."""


def is_permanent(error: BaseException) -> bool:
    """Is ``error`` one that retrying cannot fix?"""
    return isinstance(error, (PermanentTaskError, PipelineInputError))


def describe_error(error: BaseException) -> str:
    """The text stored on a failed attempt: the error's kind and its message."""
    return printable(f"{type(error).__name__}: {error}")


def printable(text: str) -> str:
    """``text`` with anything UTF-8 cannot encode (a lone surrogate such as ``\\udc80``) escaped.

    A path from a task may hold a lone surrogate (valid in JSON, invalid in UTF-8).
    An error message that quotes it cannot be sent to Redis or printed, and
    failing to report the failure used to kill the worker; escaped, the real
    reason survives.
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class TaskContext:
    """What a handler may need besides the data: who runs which attempt, and the worker's setup."""

    task_id: str
    attempt: int  # 1 for the first attempt
    worker_id: str
    pipeline: FilterPipeline  # the worker's default pipeline
    allowed_dirs: Sequence[Path]  # image paths must be inside one of these
    pipelines: dict[tuple[str, ...], FilterPipeline] = field(default_factory=dict)  # cache


Handler = Callable[[dict[str, Any], TaskContext], "dict[str, Any] | None"]


class HandlerRegistry:
    """Task type name -> handler function."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._time_limits: dict[str, float | None] = {}

    def register(self, name: str, *, time_limit: float | None = None) -> Callable[[Handler], Handler]:
        """Decorator: ``@registry.register("resize")`` above ``def resize(data, context)``.

        ``time_limit`` (seconds) replaces the worker's default for this type only.
        """
        if time_limit is not None and not (isinstance(time_limit, (int, float))
                                           and 0 < time_limit < float("inf")):
            raise ValueError(f"time_limit for {name!r} must be a positive number of seconds "
                             f"or None, got {time_limit!r}")

        def add(handler: Handler) -> Handler:
            self._handlers[name] = handler
            if time_limit is not None:
                self._time_limits[name] = time_limit
            return handler
        return add

    def time_limit(self, name: str, default: float | None) -> float | None:
        """How long one attempt of type ``name`` may run: its own limit, else ``default``."""
        return self._time_limits.get(name, default)

    def get(self, name: str) -> Handler:
        try:
            return self._handlers[name]
        except KeyError:
            raise UnknownTaskTypeError(
                f"unknown task type {name!r}; this worker runs the types {self.names()} "
                f"(a task without 'type' is an image task)") from None

    def names(self) -> list[str]:
        return sorted(self._handlers)


# --- the handlers --------------------------------------------------------------


def handle_image(data: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """Run the image pipeline on one file (the workshop's real work)."""
    bad = [name for name in ("image_path", "output_path")
           if not isinstance(data.get(name), str) or not data.get(name)]
    if bad:
        raise InvalidTaskError(
            f"an image task needs the text fields 'image_path' and 'output_path'; missing or "
            f"not text: {bad}; the task has the fields {sorted(data)}")
    source = allowed_path(data["image_path"], context.allowed_dirs)
    target = allowed_path(data["output_path"], context.allowed_dirs)
    if source == target:
        raise InvalidTaskError(
            f"'output_path' is the same file as 'image_path' ({printable(str(source))!r}); "
            f"that would overwrite the input: write the result to another file")
    refuse_special_file(source)
    if context.attempt > 1:  # an earlier attempt may have been killed mid-write
        remove_debris(target)
    specs = data.get("filters")
    pipeline = context.pipeline if specs is None else pipeline_for(specs, context)
    return pipeline.process_file(source, target)


def allowed_path(path: str, roots: Sequence[Path]) -> Path:
    """``path`` resolved, if it lies inside one of ``roots``; else ``UnsafePathError``.

    A task is data from outside: without this check, ``{"output_path":
    "/home/you/.bashrc"}`` would make a worker overwrite any file it can write.
    """
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = Path.cwd() / candidate
    for root in roots:
        try:
            return resolve_inside(candidate, root)
        except UnsafePathError:
            continue
    folders = ", ".join(str(Path(r).resolve()) for r in roots)
    raise UnsafePathError(
        f"refusing path {path!r}: it is outside the folders this worker may use ({folders}); "
        f"move the file into one of them, or start the worker with --allow FOLDER")


def refuse_special_file(path: Path) -> None:
    """InvalidTaskError if ``path`` exists but is not a regular file (a FIFO, a socket, a device).

    Opening a FIFO blocks until someone writes to it, and a device may never end:
    say what it is instead of trying, or of reporting "found nothing".
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # missing or unreadable: the loader says so
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return  # a folder: the loader's "is a folder" message is already clear
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else
            "a character device" if stat.S_ISCHR(mode) else
            "a block device" if stat.S_ISBLK(mode) else "not a regular file")
    raise InvalidTaskError(f"'image_path' {printable(str(path))!r} is {kind}, not an image file; "
                          f"give the path of a regular image file")


def pipeline_for(specs: Any, context: TaskContext) -> FilterPipeline:
    """The pipeline a task's ``filters`` asks for, built once per distinct list."""
    if isinstance(specs, str):
        specs = specs.split("|")
    if not (isinstance(specs, (list, tuple)) and all(isinstance(s, str) for s in specs)):
        raise InvalidTaskError(f"'filters' must be a list of specs such as "
                              f"['blur:radius=2', 'grayscale'], got {specs!r}")
    key = tuple(specs)
    if key not in context.pipelines:
        # UnknownFilterError / FilterParameterError (permanent) name the bad step.
        context.pipelines[key] = FilterFactory.pipeline(list(key))
    return context.pipelines[key]


def handle_noop(data: dict[str, Any], context: TaskContext) -> None:
    """Nothing at all: what is left to measure is the queue."""
    return None


def _number(data: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InvalidTaskError(f"'{name}' must be a number between {low:g} and {high:g}, "
                              f"got {value!r}")
    return value


def handle_sleep(data: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """Take ``seconds``: sleeping, or with ``"busy": true`` spinning the CPU in pure Python.

    The busy version holds the GIL most of the time, which is what a heavy
    pure-Python task does: the heartbeat thread must keep beating anyway.
    """
    seconds = _number(data, "seconds", 1.0, 0, MAX_SLEEP_SECONDS)
    if data.get("busy"):
        deadline = time.perf_counter() + seconds
        spins = 0
        while time.perf_counter() < deadline:
            spins += 1
        return {"spun": seconds, "loops": spins}
    # In short slices: a time limit enforced from another thread lands between two
    # Python steps, and one long sleep would be a single step.
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.05))
    return {"slept": seconds}


def handle_fail(data: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """Fail the first ``times`` attempts (all of them without ``times``), then succeed."""
    times = data.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
        raise InvalidTaskError(f"'times' must be a whole number >= 0, got {times!r}")
    if times is None or context.attempt <= times:
        of = "every attempt" if times is None else f"{times} attempt(s)"
        raise TransientTaskError(f"flaky failure on attempt {context.attempt} (this task fails {of})")
    return {"succeeded_on_attempt": context.attempt}


def handle_crash(data: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """Kill the worker process at once, like a segfault or the OOM killer would.

    ``os._exit`` skips every ``finally`` and ``atexit``: the worker gets no chance
    to hand its task back, which is the point. Only the reaper can save the task.
    """
    times = data.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
        raise InvalidTaskError(f"'times' must be a whole number >= 0, got {times!r}")
    if times is None or context.attempt <= times:
        os._exit(CRASH_EXIT_CODE)
    return {"survived_on_attempt": context.attempt}


def default_handlers() -> HandlerRegistry:
    """A registry with the image handler and the demo types (noop, sleep, fail, crash)."""
    registry = HandlerRegistry()
    for name, handler in (("image", handle_image), ("noop", handle_noop), ("sleep", handle_sleep),
                          ("fail", handle_fail), ("crash", handle_crash)):
        registry.register(name)(handler)
    return registry
