"""Server-Sent Events from the queue's event stream, written by hand (a few lines).

The wire format is text: for each event an ``id:`` line (the Redis stream entry
id), an ``event:`` line (its name), a ``data:`` line (JSON) and a blank line.
A line that starts with ``:`` is a comment: we send one every ``keep_alive``
seconds (15 by default) so that proxies and browsers do not close an idle
connection.

A browser that loses the connection reconnects by itself and sends the last
``id`` it saw in the ``Last-Event-ID`` header. Because our ids are stream ids,
"resume after it" is one ``XRANGE`` from that id: nothing lost, nothing
repeated. (Redis pub/sub could not do this: a message published while nobody
listens is gone.)

One reader per process (``EventFanout``): a single ``XREAD BLOCK`` loop on a
connection of its own hands each new entry to the open streams that want it
(a task's stream: that task's entries only; the queue's stream: all of them),
each through a bounded in-memory queue. A thousand open streams cost one Redis
connection, not a thousand (a blocking ``XREAD`` per stream would hold a
connection each, and redis-py's asyncio pool refuses the 101st with "Too many
connections").
A stream only asks Redis itself for its history (a few short ``XRANGE`` calls
when it opens), then listens to the reader. A client too slow to keep up is
disconnected; its browser reconnects with ``Last-Event-ID`` and catches up from
the stream's history.

Why not sse-starlette? It is good, but what it does for us here is these few
lines; writing them shows the format, which is the lesson.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
import redis.exceptions

from session5_recovery.workers import Event

from .config import KEEP_ALIVE_SECONDS
from .outages import ThrottledLog
from .vocabulary import TERMINAL_EVENTS

log = logging.getLogger(__name__)

# A Redis stream id: two unsigned 64-bit numbers. ASCII digits only (``\d`` alone would
# accept Arabic-Indic digits, which Redis refuses), and each part checked for range.
STREAM_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})", re.ASCII)
MAX_ID_PART = 2**64 - 1
VALID_ID_FORM = "two decimal numbers joined by '-', each below 2**64, as in '1718000000000-0'"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SUBSCRIBER_BACKLOG = 10_000  # events a slow client may lag behind before it is dropped
READ_BLOCK_SECONDS = 1.0  # the shared reader's XREAD BLOCK: how soon it notices a stop


class InvalidStreamId(ValueError):
    """A ``Last-Event-ID`` or ``?after=`` that is not a stream id; says which and the form."""


def format_event(event: Event) -> str:
    """One event in the SSE wire format."""
    data = {"event": event.name, "ts": event.ts, **event.fields}
    return f"id: {event.id}\nevent: {event.name}\ndata: {json.dumps(data)}\n\n"


def keep_alive_comment() -> str:
    return ": keep-alive\n\n"


def parse_stream_id(value: str | None, where: str) -> str | None:
    """``value`` if it is a stream id Redis accepts, None if absent; InvalidStreamId otherwise.

    ``where`` names the input in the error ("the Last-Event-ID header").
    """
    if value is None or not value.strip():
        return None
    found = STREAM_ID.fullmatch(value.strip())
    if found is None or any(int(part) > MAX_ID_PART for part in found.groups()):
        raise InvalidStreamId(f"{where} {value[:60]!r} is not a stream id: send {VALID_ID_FORM} "
                              f"(the 'id:' of an event this API sent), or leave it out")
    return value.strip()


def _after(a: str, b: str) -> bool:
    """True if stream id ``a`` is newer than ``b``."""
    ams, _, aseq = a.partition("-")
    bms, _, bseq = b.partition("-")
    return (int(ams), int(aseq or 0)) > (int(bms), int(bseq or 0))


@dataclass(eq=False)
class Subscription:
    """One open stream's mailbox: the events the shared reader read since it subscribed,
    only those of ``task_id`` if it names one."""

    task_id: str | None = None  # None: every event of the queue
    queue: asyncio.Queue[Event | None] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIBER_BACKLOG))
    dropped: bool = False  # it fell SUBSCRIBER_BACKLOG events behind: its stream ends
    start: str = "0-0"  # the reader's position when it subscribed: every later event comes here

    async def next(self, timeout: float) -> Event | None:
        """The next event, or None after ``timeout`` seconds of silence (time for a keep-alive)."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None


class EventFanout:
    """The process's one reader of the event stream, fanning entries out to subscribers.

    Started on the first ``subscribe`` in the running event loop, stopped by ``close``
    (the app's shutdown). Redis errors are logged once per interval and retried:
    an outage pauses the streams (they keep sending keep-alives) and they resume
    where the reader stopped, nothing skipped.
    """

    def __init__(self, client_factory: Callable[[], aioredis.Redis], stream_key: str, *,
                 block_seconds: float = READ_BLOCK_SECONDS) -> None:
        self.client_factory = client_factory
        self.stream_key = stream_key
        self.block_seconds = block_seconds
        self.position: str | None = None  # the newest id handed out (None: not started)
        # Indexed by what they want, so that an event wakes only the streams that show it:
        # a thousand open task streams are not each handed every event of the queue.
        self.everything: set[Subscription] = set()
        self.by_task: dict[str, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._throttled = ThrottledLog(log)

    async def subscribe(self, task_id: str | None = None) -> Subscription:
        """A new mailbox; every entry read from now on goes into it too (with ``task_id``:
        only the entries of that task).

        Call it inside the stream's generator, so that the generator's ``finally``
        always unsubscribes (a client that leaves before the first byte included).
        Whoever subscribes unsubscribes, once: ``live()`` only reads the mailbox.
        """
        await self.start()
        subscription = Subscription(task_id=task_id, start=self.position or "0-0")
        if task_id is None:
            self.everything.add(subscription)
        else:
            self.by_task.setdefault(task_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """The reader stops filling ``subscription``; a second call changes nothing."""
        self._forget(subscription)

    @property
    def subscribers(self) -> list[Subscription]:
        """Every open mailbox, queue-wide and per task."""
        return [*self.everything, *(s for group in self.by_task.values() for s in group)]

    def _forget(self, subscription: Subscription) -> None:
        """Take ``subscription`` out of the index, if it is still there (a dropped one was
        taken out already, and is unsubscribed again when its stream ends)."""
        if subscription.task_id is None:
            self.everything.discard(subscription)
            return
        group = self.by_task.get(subscription.task_id)
        if group is not None:
            group.discard(subscription)
            if not group:  # no empty sets left behind by the tasks that came and went
                del self.by_task[subscription.task_id]

    def _recipients(self, event: Event) -> list[Subscription]:
        """The mailboxes ``event`` goes to: the queue-wide ones, and its task's."""
        wanting_task = self.by_task.get(event.task_id, ()) if event.task_id else ()
        return [*self.everything, *wanting_task]

    async def start(self) -> None:
        """Start the reader if it is not running; a Redis outage raises (a route's 503)."""
        loop = asyncio.get_running_loop()
        # A new event loop (a test client started again) needs a reader of its own.
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop = loop
            self.everything.clear()
            self.by_task.clear()
            self._ready = loop.create_future()
            self._task = asyncio.create_task(self._run(self._ready), name="sse-fanout")
        await asyncio.shield(self._ready)

    async def _run(self, ready: asyncio.Future[None]) -> None:
        client = self.client_factory()
        try:
            if self.position is None:  # the first start: from the newest entry on
                try:
                    last = await client.xrevrange(self.stream_key, count=1)
                except Exception as error:
                    ready.set_exception(error)
                    ready.exception()  # retrieved: the next subscribe starts a new reader
                    return
                self.position = last[0][0] if last else "0-0"
            ready.set_result(None)
            while True:
                try:
                    replies = await client.xread({self.stream_key: self.position}, count=500,
                                                 block=int(self.block_seconds * 1000))
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
                    self._throttled.warning("read", "SSE reader: Redis unavailable (%s); the "
                                                    "streams send keep-alives meanwhile", error)
                    await asyncio.sleep(self.block_seconds)
                    continue
                for entry_id, raw in (replies[0][1] if replies else []):
                    self._deliver(Event.from_entry(entry_id, raw))
        finally:
            if not ready.done():
                ready.cancel()
            with contextlib.suppress(Exception):
                await client.aclose()

    def _deliver(self, event: Event) -> None:
        self.position = event.id
        for subscription in self._recipients(event):
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                # Too slow: end its stream; the browser reconnects with Last-Event-ID.
                subscription.dropped = True
                self._forget(subscription)
                with contextlib.suppress(asyncio.QueueEmpty):
                    subscription.queue.get_nowait()
                subscription.queue.put_nowait(None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


async def history(client: aioredis.Redis, stream_key: str, after: str) -> AsyncIterator[Event]:
    """The entries kept in the stream after ``after``, oldest first, page by page."""
    position = after
    while True:
        entries = await client.xrange(stream_key, min=f"({position}", count=500)
        if not entries:
            return
        for entry_id, raw in entries:
            event = Event.from_entry(entry_id, raw)
            position = event.id
            yield event


async def live(subscription: Subscription, *, after: str,
               keep_alive: float) -> AsyncIterator[Event | None]:
    """Events newer than ``after`` from ``subscription`` (None: ``keep_alive`` seconds of silence).

    Subscribe BEFORE reading the history and skip here what the history already
    sent: an event written between the two is then in one or the other, never lost.
    It does not unsubscribe: the stream that subscribed does, in its ``finally``.
    (A generator left in the middle of an ``async for`` is closed whenever the loop
    gets to it, so a ``finally`` here ran a second time, at no particular moment.)
    """
    while True:
        event = await subscription.next(keep_alive)
        if subscription.dropped and event is None:
            return
        if event is None or _after(event.id, after):
            yield event
            if event is not None:
                after = event.id


async def task_events(client: aioredis.Redis, fanout: EventFanout, stream_key: str,
                      task_id: str, *, after: str | None, finished: bool,
                      keep_alive: float = KEEP_ALIVE_SECONDS) -> AsyncIterator[str]:
    """The events of one task after ``after``, ending at its terminal event.

    ``finished``: the task had already ended when the client connected; then
    the history that is still in the stream is sent and the stream closes, even
    if the terminal event itself was trimmed away.
    """
    position = after or "0-0"
    subscription = None
    try:
        subscription = None if finished else await fanout.subscribe(task_id)
        async for event in history(client, stream_key, position):
            position = event.id
            if event.task_id == task_id:
                yield format_event(event)
                if event.name in TERMINAL_EVENTS:
                    return
        if finished or subscription is None:
            return
        async for event in live(subscription, after=position, keep_alive=keep_alive):
            if event is None:
                yield keep_alive_comment()
            else:  # the subscription holds this task's events only
                yield format_event(event)
                if event.name in TERMINAL_EVENTS:
                    return
    finally:
        if subscription is not None:
            fanout.unsubscribe(subscription)


async def queue_events(fanout: EventFanout, *, client: aioredis.Redis, stream_key: str,
                       after: str | None,
                       keep_alive: float = KEEP_ALIVE_SECONDS) -> AsyncIterator[str]:
    """Every event of the queue after ``after`` (None: only new ones), forever."""
    subscription = await fanout.subscribe()
    try:
        yield ": connected\n\n"
        position = after or subscription.start
        if after is not None:
            async for event in history(client, stream_key, after):
                position = event.id
                yield format_event(event)
        async for event in live(subscription, after=position, keep_alive=keep_alive):
            yield keep_alive_comment() if event is None else format_event(event)
    finally:
        fanout.unsubscribe(subscription)
