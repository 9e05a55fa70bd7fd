"""A thread-safe task queue that lives in this process's memory.

Producers call ``add_task`` and get an id back at once; workers call
``get_task`` to claim the oldest pending task (waiting for one if there is
none), then ``mark_completed`` or ``mark_failed``. Anyone may ask
``get_task_info`` or ``get_stats`` at any time.

The locking follows CPython's ``queue.Queue`` (Lib/queue.py):

- one lock, ``mutex``, guards every piece of state;
- two conditions share that lock: ``not_empty`` ("a task is pending") and
  ``all_done`` ("nothing is pending or processing"). A thread waits on the
  condition that describes what it needs, and each change notifies exactly
  the condition it made true;
- the pending tasks are stored behind four small hooks (``_init``, ``_qsize``,
  ``_put``, ``_get``), so a subclass can change the order (by priority, for
  instance) without touching any of the locking.

Everything here lives in one process's memory: other processes cannot reach
it, and it is gone when the process exits. A queue in a server (Redis) lifts
both limits while keeping these method names.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .task import InvalidTransitionError, Task, TaskStatus, as_json_object


class TaskNotFoundError(KeyError):
    """No task with this id was ever added to this queue."""

    def __init__(self, task_id: str) -> None:
        super().__init__(task_id)
        self.task_id = task_id

    def __str__(self) -> str:
        # KeyError would print only the quoted id; say what to do instead.
        return (f"no task with id {self.task_id!r} in this queue. Use the id that add_task() "
                f"returned (or the .id of a task from get_task()); a queue knows only the "
                f"tasks added to it")


# What to do instead, when a task that is not PROCESSING is completed or failed.
_FINISH_HINTS = {
    TaskStatus.PENDING: ("Only a claimed task can be finished: claim it with "
                         "get_task(worker_id) first, then finish the task it returns"),
    TaskStatus.COMPLETED: "It has already finished; each attempt is completed or failed once",
    TaskStatus.FAILED: "It has already finished; each attempt is completed or failed once",
}


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout >= 0):
        raise ValueError(f"timeout must be a number of seconds >= 0, or None to wait "
                         f"without limit; got {timeout!r}")


class TaskQueue:
    """A FIFO queue of tasks, safe to share between threads.

    ``clock`` stamps the tasks' ``created_at``, ``started_at`` and
    ``finished_at`` (pass a fake clock in tests). Waiting always measures real
    time with ``time.monotonic``, which, unlike a wall clock, never jumps.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.mutex = threading.Lock()
        self.not_empty = threading.Condition(self.mutex)  # notified when a task is added
        self.all_done = threading.Condition(self.mutex)  # notified when the last task finishes
        self._tasks: dict[str, Task] = {}  # every task ever added, by id
        self._counts: dict[TaskStatus, int] = dict.fromkeys(TaskStatus, 0)
        self._init()

    # --- producers ---------------------------------------------------------

    def add_task(self, data: dict[str, Any]) -> str:
        """Queue the work described by ``data`` (a JSON-ready dict) and return its id at once."""
        # A JSON copy: later changes to the caller's dict cannot reach the queue,
        # and workers see exactly what a queue in another process would give them.
        task = Task(data=as_json_object(data, "task data"))
        with self.mutex:
            task.created_at = self._clock()
            self._put(task)  # first: if the storage refuses the task, nothing else has changed
            self._tasks[task.id] = task
            self._counts[TaskStatus.PENDING] += 1
            self.not_empty.notify()  # one new task is enough for one waiting worker
        return task.id

    # --- workers -----------------------------------------------------------

    def get_task(self, worker_id: str, timeout: float | None = None) -> Task | None:
        """Claim the oldest pending task for ``worker_id``, waiting for one if needed.

        ``timeout=None`` waits as long as it takes, ``0`` does not wait, and a
        number waits at most that many seconds. Returns a copy of the claimed
        task (status PROCESSING), or None if the time ran out.
        """
        if not isinstance(worker_id, str) or not worker_id:
            raise TypeError(f"worker_id must be a non-empty string naming the worker, "
                            f"e.g. 'worker-1'; got {worker_id!r}")
        _check_timeout(timeout)
        with self.not_empty:
            # Why `while` and not `if`: waking up does not mean a task is there for us.
            # notify() wakes a waiter, but another worker may take the lock first and
            # claim the task; and wait() may also return with no notify at all (a
            # "spurious wake-up", which the threading docs allow). So we check again
            # after every wake-up. The deadline is fixed once, before the loop, and
            # each wait() gets only the time that is left: however many times we
            # wake up early, the total wait never exceeds `timeout`.
            if timeout is None:
                while not self._qsize():
                    self.not_empty.wait()
            else:
                deadline = time.monotonic() + timeout
                while not self._qsize():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self.not_empty.wait(remaining)
            task = self._get()
            self._move(task, TaskStatus.PROCESSING)
            task.worker_id = worker_id
            # A copy: the worker may change its Task freely; only these methods change ours.
            return copy.deepcopy(task)

    def mark_completed(self, task_id: str, result: dict[str, Any] | None = None) -> None:
        """Record that the claimed task ``task_id`` succeeded, with an optional JSON-ready result."""
        if result is not None:
            result = as_json_object(result, "result")
        with self.mutex:
            task = self._claimed_task(task_id, TaskStatus.COMPLETED)
            self._move(task, TaskStatus.COMPLETED)
            task.result = result
            self._notify_if_all_done()

    def mark_failed(self, task_id: str, error: str) -> None:
        """Record that the claimed task ``task_id`` failed, and why (a message string)."""
        if not isinstance(error, str):
            raise TypeError(f"error must be a message string, e.g. str(exc) or repr(exc); "
                            f"got {type(error).__name__}")
        with self.mutex:
            task = self._claimed_task(task_id, TaskStatus.FAILED)
            self._move(task, TaskStatus.FAILED)
            task.error = error
            self._notify_if_all_done()

    # --- anyone ------------------------------------------------------------

    def get_task_info(self, task_id: str) -> Task | None:
        """A copy of the task ``task_id`` as it is now; None if there is none.

        A question, not a command: "is there such a task?" has the answer "no", as in
        sessions 4 and 5. The commands (``mark_completed``, ``mark_failed``) raise
        TaskNotFoundError instead: finishing a task nobody added is a mistake.
        """
        with self.mutex:
            try:
                return copy.deepcopy(self._find(task_id))
            except TaskNotFoundError:
                return None

    def get_stats(self) -> dict[str, int]:
        """How many tasks are in each status, and in total."""
        with self.mutex:
            stats = {status.value: count for status, count in self._counts.items()}
            stats["total"] = len(self._tasks)
            return stats

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no task is pending or processing; True if so, False on timeout."""
        _check_timeout(timeout)
        with self.all_done:
            # The same deadline loop as in get_task, for the same reasons.
            if timeout is None:
                while self._unfinished():
                    self.all_done.wait()
                return True
            deadline = time.monotonic() + timeout
            while self._unfinished():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.all_done.wait(remaining)
            return True

    def __len__(self) -> int:
        """The number of pending tasks."""
        with self.mutex:
            return self._qsize()

    def __repr__(self) -> str:
        stats = self.get_stats()
        counts = ", ".join(f"{name}={count}" for name, count in stats.items() if name != "total")
        return f"{type(self).__name__}({counts})"

    # --- helpers: called with the mutex held ---------------------------------

    def _find(self, task_id: str) -> Task:
        try:
            return self._tasks[task_id]
        except (KeyError, TypeError):  # TypeError: an unhashable "id", such as a dict
            raise TaskNotFoundError(task_id) from None

    def _claimed_task(self, task_id: str, finishing_as: TaskStatus) -> Task:
        task = self._find(task_id)
        if task.status is not TaskStatus.PROCESSING:
            raise InvalidTransitionError(task.status, finishing_as, task.id,
                                         hint=_FINISH_HINTS[task.status])
        return task

    def _move(self, task: Task, status: TaskStatus) -> None:
        """The one place where a status changes, so the counts always agree with the tasks."""
        before = task.status
        task.move_to(status, self._clock())
        self._counts[before] -= 1
        self._counts[task.status] += 1

    def _unfinished(self) -> int:
        return self._counts[TaskStatus.PENDING] + self._counts[TaskStatus.PROCESSING]

    def _notify_if_all_done(self) -> None:
        if not self._unfinished():
            self.all_done.notify_all()  # every join() caller is waiting for this same moment

    # --- storage hooks, as in Lib/queue.py ------------------------------------
    # Called with the mutex held. They decide only where pending tasks wait and
    # in which order they leave; override them (all four) to change the order.

    def _init(self) -> None:
        self._pending: deque[Task] = deque()

    def _qsize(self) -> int:
        return len(self._pending)

    def _put(self, task: Task) -> None:
        self._pending.append(task)

    def _get(self) -> Task:
        return self._pending.popleft()
