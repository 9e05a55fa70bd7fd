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

from .epoch import DATA_LOST_MESSAGE, QueueEpoch
from .grace import ReapGrace
from .instance import InstanceToken
from .redis_task_queue import RedisTaskQueue, describe_outage, is_outage


class Heartbeat:
    """Beats for ``worker_id`` every ``settings.heartbeat_interval`` s until stopped.

    ``beat_once()`` and ``maintain_once()`` are the single steps, for tests that
    drive time themselves. ``maintain=False`` leaves the chores to someone else.
    ``instance``: the worker's hold on its id, refreshed with every beat (instance.py);
    ``epoch``: the queue's epoch as the worker knows it, compared at every beat
    (epoch.py). Without them (a reaper that runs no tasks) those checks are skipped.
    """

    def __init__(self, queue: RedisTaskQueue, worker_id: str, *,
                 instance: InstanceToken | None = None, epoch: QueueEpoch | None = None,
                 maintain: bool = True, stopping: threading.Event | None = None,
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
        self._server_full = False
        # Set by the worker on a stop signal. A signal handler must not talk to Redis
        # (it may interrupt a Redis call in progress), so this thread announces it.
        self._stopping = stopping
        self._announced = False
        self.instance = instance
        self.epoch = epoch
        # The reaper's grace after a restart or an outage (grace.py).
        self.grace = ReapGrace(queue.client, self.settings.heartbeat_ttl, self.settings.reap_interval,
                               key=queue.keys.workers)
        self.id_clash: str | None = None  # the other process's token, if one took our id
        self.data_lost = False  # the server lost the queue's data while we ran
        self._holding_off = False

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
        except redis.exceptions.OutOfMemoryError:
            return self._beat_on_a_full_server()
        except redis.RedisError as error:
            if not is_outage(error):  # unreachable, LOADING or BUSY: the next beat retries
                raise
            if not self._redis_down:
                self._say(f"heartbeat: {describe_outage(error)}; retrying")
            self._redis_down = True
            return False
        if self._redis_down:
            self._say("heartbeat: Redis is back")
            self._redis_down = False
        if self._server_full:
            self._say("heartbeat: Redis has room again")
            self._server_full = False
        if self.instance is not None:
            self._check_instance()
        # Every beat also compares the queue's epoch (one small script): after a server
        # came back empty, a claim may rewrite our heartbeat key before we look, so a
        # missing key alone would not tell.
        if self.check_data_lost():
            pass  # said in plain words by check_data_lost
        elif not existed and self.beats > 0:
            # Paused (SIGSTOP, a debugger, a swapping machine) or cut off for longer
            # than the TTL: the reaper may have given our task to someone else. Our
            # completion of it will then be refused, which is exactly right.
            self._say("heartbeat: my key had expired: I was taken for dead; a task I hold may "
                      "have gone to another worker (my completion would then be refused)")
        self.beats += 1
        return True

    def _check_instance(self) -> None:
        """Is the id still ours? If another process took it, stop, touching nothing of it."""
        assert self.instance is not None
        try:
            holder = self.instance.refresh()
        except redis.RedisError:
            return  # unreachable or full: the next beat tries again
        if holder is not None and self.id_clash is None:
            self.id_clash = holder
            self._say(f"heartbeat: another live process now uses my worker id ({holder}); "
                      f"stopping without touching its tasks or its heartbeat")
            if self._stopping is not None:
                self._stopping.set()

    def check_data_lost(self) -> bool:
        """Our key was gone: was it only us (taken for dead), or did the server lose everything?"""
        if self.epoch is None:
            return False
        try:
            verdict = self.epoch.check()
        except redis.RedisError:
            return False
        if verdict in ("lost", "changed"):
            self.data_lost = True
            self._say(f"heartbeat: {DATA_LOST_MESSAGE}")
            return True
        return False

    def _beat_on_a_full_server(self) -> bool:
        """A full server (noeviction) refuses the heartbeat script: keep the key alive anyway.

        PEXPIRE on an existing key needs no memory, so Redis allows it when full:
        the worker stays alive and keeps its tasks until there is room again.
        """
        try:
            kept = bool(self.queue.client.pexpire(self.queue.keys.heartbeat(self.worker_id),
                                                  self.settings.heartbeat_ttl_ms))
        except redis.RedisError as error:
            if not is_outage(error):
                raise
            kept = False
        if not self._server_full:
            self._say("heartbeat: Redis is full (maxmemory reached); "
                      + ("my heartbeat is kept alive with PEXPIRE until there is room"
                         if kept else "my heartbeat key is gone and cannot be written"))
        self._server_full = True
        if kept:
            self.beats += 1
            if self.instance is not None:
                self._check_instance()
        return kept

    def maintain_once(self) -> None:
        """Reap dead workers and promote due retries, reporting what happened."""
        try:
            if self.grace.hold_off():
                if not self._holding_off:
                    self._say(f"reaper: holding off for {self.settings.heartbeat_ttl:g} s before "
                              f"declaring anyone dead: {self.grace.reason}")
                self._holding_off = True
                recovered, promoted = [], self.queue.promote_due()
            else:
                self._holding_off = False
                recovered, promoted = self.queue.maintain()
        except redis.exceptions.OutOfMemoryError:
            return  # full: nothing can be moved now; beat_once says so, the next round retries
        except redis.RedisError as error:  # the next round tries again; the thread lives on
            if not is_outage(error):  # (an outage: beat_once reports it)
                self._say(f"reaper: Redis replied {error}")
            return
        for item in recovered:
            what = "requeued" if item.outcome == "requeued" else "moved to the DLQ"
            self._say(f"reaper: worker {item.worker_id} is dead; its task {item.task_id[:8]} {what}")
        if promoted:
            self._say(f"{promoted} delayed task(s) due (retries, run_at): back in pending")

    def _announce_stopping(self) -> None:
        try:
            self.queue.announce_stopping(self.worker_id)
            self._announced = True
        except redis.RedisError as error:
            if not is_outage(error):
                raise
            # the next loop tries again

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
