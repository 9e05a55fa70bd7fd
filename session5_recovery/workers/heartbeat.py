"""A worker's heartbeat, from a thread of its own.

Why a thread: the worker's main thread is busy running tasks, and a task may
take minutes. If heartbeats were sent between tasks, every long task would
make its worker look dead, and the reaper would hand the task to a second
worker while the first is still on it. A separate thread keeps beating while
the task runs. (A pure-Python task holds the GIL, but the interpreter lets
other threads run every few milliseconds, so the beats still go out; Pillow
releases the GIL in its filters anyway.)

The same thread does the periodic chores every ``reap_interval``: it reaps
dead workers and promotes due retries. So recovery needs no extra process:
any live worker rescues the tasks of a dead one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis

from .redis_task_queue import RedisTaskQueue


class Heartbeat:
    """Beats for ``worker_id`` every ``settings.heartbeat_interval`` s until stopped.

    ``beat_once()`` and ``maintain_once()`` are the single steps, for tests that
    drive time themselves. ``maintain=False`` leaves the chores to someone else.
    """

    def __init__(self, queue: RedisTaskQueue, worker_id: str, *, maintain: bool = True,
                 stopping: threading.Event | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.queue = queue
        self.worker_id = worker_id
        self.settings = queue.settings
        self.maintain = maintain
        self.beats = 0  # successful heartbeats so far
        self._log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._redis_down = False
        # Set by the worker on a stop signal. A signal handler must not talk to Redis
        # (it may interrupt a Redis call in progress), so this thread announces it.
        self._stopping = stopping
        self._announced = False

    def start(self) -> Heartbeat:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{self.worker_id}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop beating (the key then expires by itself unless the worker deregisters)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def beat_once(self) -> bool:
        """Send one heartbeat; False if Redis could not be reached (the next one will retry)."""
        try:
            existed = self.queue.heartbeat(self.worker_id)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            if not self._redis_down:
                self._say(f"heartbeat: cannot reach Redis ({error}); retrying")
            self._redis_down = True
            return False
        if self._redis_down:
            self._say("heartbeat: Redis is back")
            self._redis_down = False
        if not existed and self.beats > 0:
            # Paused (SIGSTOP, a debugger, a swapping machine) or cut off for longer
            # than the TTL: the reaper may have given our task to someone else. Our
            # completion of it will then be refused, which is exactly right.
            self._say("heartbeat: my key had expired: I was taken for dead; a task I hold may "
                      "have gone to another worker (my completion would then be refused)")
        self.beats += 1
        return True

    def maintain_once(self) -> None:
        """Reap dead workers and promote due retries, reporting what happened."""
        try:
            recovered, promoted = self.queue.maintain()
        except (redis.ConnectionError, redis.TimeoutError):
            return  # beat_once reports the outage
        except redis.ResponseError as error:  # the next round tries again; the thread lives on
            self._say(f"reaper: Redis replied {error}")
            return
        for item in recovered:
            what = "requeued" if item.outcome == "requeued" else "moved to the DLQ"
            self._say(f"reaper: worker {item.worker_id} is dead; its task {item.task_id[:8]} {what}")
        if promoted:
            self._say(f"{promoted} retr{'y' if promoted == 1 else 'ies'} due: back in pending")

    def _announce_stopping(self) -> None:
        try:
            self.queue.announce_stopping(self.worker_id)
            self._announced = True
        except (redis.ConnectionError, redis.TimeoutError):
            pass  # the next loop tries again

    def _run(self) -> None:
        interval = self.settings.heartbeat_interval
        reap_interval = self.settings.reap_interval
        next_beat = next_chores = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_beat:
                self.beat_once()
                next_beat = now + interval
            if self._stopping is not None and self._stopping.is_set() and not self._announced:
                self._announce_stopping()
            if self.maintain and now >= next_chores:
                self.maintain_once()
                next_chores = now + reap_interval
            wake = min(next_beat, next_chores if self.maintain else next_beat)
            # Event.wait returns early when stop() is called: no waiting out an interval.
            self._stop.wait(max(0.0, wake - time.monotonic()))

    def _say(self, message: str) -> None:
        if self._log is not None:
            self._log(f"[{self.worker_id}] {message}")
