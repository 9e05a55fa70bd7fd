"""The shared event reader hands each stream only what it asked for, and lets go of it once.

Against the shared Redis, on a stream key of this test's own. Before: a task's stream
subscribed to every event of the queue and threw the others away itself, so each of N
open task streams was handed every event; and ``live()`` unsubscribed in its own
``finally`` as well as the stream that had subscribed, twice per stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis

from session5_recovery.workers import Event
from session6_api import sse
from session6_api.sse import EventFanout, Subscription, queue_events, task_events

pytestmark = pytest.mark.redis
WAIT = 10.0  # seconds: the bound of a wait that ends as soon as the event is there
T = TypeVar("T")


def run(scenario: Callable[[EventFanout, aioredis.Redis], Awaitable[T]], redis_url: str,
        queue_name: str) -> T:
    """``scenario(fanout, client)`` in a fresh event loop, on a stream key of the test's own.

    ``asyncio.run`` closes every async generator left open before it returns, so
    whatever a generator's ``finally`` does has been done when this returns.
    """
    async def main() -> T:
        fanout = EventFanout(lambda: aioredis.from_url(redis_url, decode_responses=True),
                             f"{{{queue_name}}}:events", block_seconds=0.1)
        client = aioredis.from_url(redis_url, decode_responses=True)
        try:
            return await asyncio.wait_for(scenario(fanout, client), 60)
        finally:
            await fanout.close()
            await client.aclose()

    return asyncio.run(main())


async def write(client: aioredis.Redis, fanout: EventFanout, name: str,
                task: str | None = None) -> str:
    """Append one event to the stream, as the queue's scripts do; its stream id."""
    fields: dict[str, Any] = {"event": name, "ts": "0"}
    if task is not None:
        fields["task"] = task
    return await client.xadd(fanout.stream_key, fields)


async def next_event(subscription: Subscription) -> Event:
    event = await subscription.next(WAIT)
    assert event is not None, f"no event within {WAIT} s"
    return event


def waiting(subscription: Subscription) -> list[tuple[str | None, str]]:
    """(task, event name) of what is in the mailbox now, taken out."""
    found = []
    while not subscription.queue.empty():
        event = subscription.queue.get_nowait()
        assert event is not None
        found.append((event.task_id, event.name))
    return found


WRITTEN = [("B", "enqueued"), ("A", "enqueued"), (None, "queue_paused"), ("B", "claimed"),
           ("A", "claimed"), ("B", "completed")]


def test_a_task_subscription_is_handed_only_its_task_and_a_queue_wide_one_everything(
        redis_url, queue_name):
    async def scenario(fanout: EventFanout, client: aioredis.Redis) -> None:
        everything = await fanout.subscribe()
        task_a = await fanout.subscribe(task_id="A")
        task_b = await fanout.subscribe(task_id="B")
        task_c = await fanout.subscribe(task_id="C")
        for task, name in WRITTEN:
            await write(client, fanout, name, task)
        # The reader hands each entry to every mailbox before it reads the next one:
        # once the queue-wide mailbox has the last entry, the others have theirs.
        heard = [await next_event(everything) for _ in WRITTEN]
        assert [(event.task_id, event.name) for event in heard] == WRITTEN
        assert waiting(task_a) == [("A", "enqueued"), ("A", "claimed")]
        assert waiting(task_b) == [("B", "enqueued"), ("B", "claimed"), ("B", "completed")]
        assert waiting(task_c) == []

    run(scenario, redis_url, queue_name)


def spy_on_subscriptions(fanout: EventFanout) -> tuple[asyncio.Event, list[tuple[str | None, str]]]:
    """An asyncio.Event set once a stream waits on its mailbox (its history is sent: what
    is written from then on reaches it through the reader only), and the (task, name) of
    every event the reader puts in that mailbox."""
    listening, handed = asyncio.Event(), []
    subscribe = fanout.subscribe

    async def spied_subscribe(*args: Any, **kwargs: Any) -> Subscription:
        subscription = await subscribe(*args, **kwargs)
        put, take = subscription.queue.put_nowait, subscription.next

        def record(event: Event | None) -> None:
            if event is not None:
                handed.append((event.task_id, event.name))
            put(event)

        async def wait(timeout: float) -> Event | None:
            listening.set()
            return await take(timeout)

        subscription.queue.put_nowait = record  # type: ignore[method-assign]
        subscription.next = wait  # type: ignore[method-assign]
        return subscription

    fanout.subscribe = spied_subscribe  # type: ignore[method-assign]
    return listening, handed


async def stream_task_a(fanout: EventFanout, client: aioredis.Redis, listening: asyncio.Event,
                        written: list[tuple[str, str]]) -> list[str]:
    """The lines ``task_events`` (GET /tasks/A/events) sends while ``written`` is written."""
    stream = task_events(client, fanout, fanout.stream_key, "A", after=None, finished=False,
                         keep_alive=WAIT)
    lines = asyncio.create_task(collect(stream))
    await asyncio.wait_for(listening.wait(), WAIT)
    for task, name in written:
        await write(client, fanout, name, task)
    return await asyncio.wait_for(lines, WAIT)


async def collect(stream: Any) -> list[str]:
    return [line async for chunk in stream for line in chunk.splitlines()]


def test_a_task_stream_is_handed_only_its_own_events(redis_url, queue_name):
    """Its mailbox is filled with task A's events only, not everything, filtered later."""
    handed: list[tuple[str | None, str]] = []

    async def scenario(fanout: EventFanout, client: aioredis.Redis) -> list[str]:
        listening, seen = spy_on_subscriptions(fanout)
        try:
            return await stream_task_a(fanout, client, listening, [
                ("B", "enqueued"), ("B", "claimed"), ("A", "claimed"), ("B", "completed"),
                ("A", "completed")])
        finally:
            handed.extend(seen)

    sent = run(scenario, redis_url, queue_name)
    assert [line for line in sent if line.startswith("event: ")] == \
        ["event: claimed", "event: completed"]
    assert handed == [("A", "claimed"), ("A", "completed")]


def test_a_stream_lets_go_of_its_subscription_exactly_once(redis_url, queue_name, monkeypatch):
    """A queue stream that fell behind ends (``live()`` returns) and unsubscribes once:
    ``live()`` used to unsubscribe in its own ``finally``, then the stream did it again."""
    monkeypatch.setattr(sse, "SUBSCRIBER_BACKLOG", 1)  # one unread event is too far behind
    calls: list[Subscription] = []

    async def scenario(fanout: EventFanout, client: aioredis.Redis) -> list[str]:
        unsubscribe = fanout.unsubscribe

        def counted(subscription: Subscription) -> None:
            calls.append(subscription)
            unsubscribe(subscription)

        fanout.unsubscribe = counted  # type: ignore[method-assign]
        listening, _ = spy_on_subscriptions(fanout)
        stream = queue_events(fanout, client=client, stream_key=fanout.stream_key, after=None,
                              keep_alive=WAIT)
        lines = asyncio.create_task(collect(stream))
        await asyncio.wait_for(listening.wait(), WAIT)
        # Two entries in one transaction: the reader gets both in one read and hands them
        # over at once, so the second finds the mailbox full and the stream is dropped.
        async with client.pipeline(transaction=True) as pipe:
            pipe.xadd(fanout.stream_key, {"event": "enqueued", "ts": "0", "task": "A"})
            pipe.xadd(fanout.stream_key, {"event": "enqueued", "ts": "0", "task": "B"})
            await pipe.execute()
        return await asyncio.wait_for(lines, WAIT)

    sent = run(scenario, redis_url, queue_name)
    assert [line for line in sent if line.startswith("event: ")] == []  # dropped, not served
    assert len(calls) == 1


def test_unsubscribing_twice_changes_nothing_the_second_time(redis_url, queue_name):
    async def scenario(fanout: EventFanout, client: aioredis.Redis) -> None:
        first = await fanout.subscribe(task_id="A")
        fanout.unsubscribe(first)
        second = await fanout.subscribe(task_id="A")
        fanout.unsubscribe(first)  # again: must not take the newer mailbox away
        await write(client, fanout, "claimed", "A")
        assert (await next_event(second)).name == "claimed"
        assert waiting(first) == []
        fanout.unsubscribe(second)
        fanout.unsubscribe(second)
        assert fanout.subscribers == []

    run(scenario, redis_url, queue_name)
