"""SSE streams against a live server and a private Redis: they stay open while nothing
happens (a keep-alive comment every ``keep_alive`` seconds), a thousand of them cost
no more Redis connections than one, and a malformed resume id is a 400 that says
what a valid one looks like."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from _private_servers import ThrowawayRedis

from session5_recovery.workers import RedisTaskQueue
from session6_api.config import KEEP_ALIVE_SECONDS
from session6_api.testing.livetest import LiveServer

pytestmark = [pytest.mark.redis, pytest.mark.slow]
QUEUE = "streams"
STREAMS = 1000
# The three: above 2**64, Arabic-Indic digits (Python's \d accepts them), and 2**64.
MALFORMED_IDS = ["99999999999999999999-0", "\u0661\u0662\u0663-0", "18446744073709551616-0"]


def serve(private_redis: ThrowawayRedis, tmp_path, **env: str) -> LiveServer:
    return LiveServer(redis_url=private_redis.url, queue_name=QUEUE,
                      database_url=f"sqlite:///{tmp_path / 'streams.db'}",
                      data_dir=tmp_path / "data", workers=0, env=env)


def test_the_default_keep_alive_is_15_seconds():
    assert KEEP_ALIVE_SECONDS == 15.0


def test_quiet_streams_stay_open_past_the_redis_read_timeout(private_redis, tmp_path):
    """Nothing happens for longer than the Redis client's read timeout (backend 0.3 s +
    the reader's 1 s block); both kinds of stream keep sending comments, then deliver."""
    with serve(private_redis, tmp_path, SESSION6_KEEP_ALIVE="0.5",
               SESSION6_BACKEND_TIMEOUT="0.3") as server:
        task = httpx.post(server.url + "/tasks", json={"image": "photo_grace_hopper.jpg"})
        task_id = task.json()["id"]
        with httpx.Client(base_url=server.url, timeout=3) as client, \
                client.stream("GET", "/events") as queue_stream, \
                client.stream("GET", f"/tasks/{task_id}/events") as task_stream:
            # 4 s of nothing, and the relay's enqueued event only after it.
            for stream in (queue_stream, task_stream):
                assert stream.status_code == 200
            comments = {"queue": 0, "task": 0}
            queue_lines, task_lines = queue_stream.iter_lines(), task_stream.iter_lines()
            while min(comments.values()) < 8:
                for name, lines in (("queue", queue_lines), ("task", task_lines)):
                    line = next(lines)
                    if line == ": keep-alive":
                        comments[name] += 1
            queue = RedisTaskQueue.connect(private_redis.url, queue_name=QUEUE)
            queue.cancel(task_id)
            queue.close()
            assert "event: cancelled" in list(_until(task_lines, "event: cancelled"))
            assert "event: cancelled" in list(_until(queue_lines, "event: cancelled"))
        assert "Timeout" not in server.log(), server.log()[-2000:]


def _until(lines, wanted: str):
    for line in lines:
        yield line
        if line == wanted:
            return


@pytest.mark.parametrize("bad", MALFORMED_IDS)
def test_a_malformed_resume_id_is_400_naming_the_header(private_redis, tmp_path, bad):
    with serve(private_redis, tmp_path) as server:
        task_id = httpx.post(server.url + "/tasks",
                             json={"image": "photo_grace_hopper.jpg"}).json()["id"]
        with httpx.Client(base_url=server.url, timeout=10) as client:
            header = {"Last-Event-ID": bad.encode()}  # a header is bytes on the wire
            for path in ("/events", f"/tasks/{task_id}/events", "/dashboard/stream"):
                response = client.get(path, headers=header)
                assert response.status_code == 400, (path, response.text)
                detail = response.json()["detail"]
                assert "Last-Event-ID" in detail and "1718000000000-0" in detail
            response = client.get("/events", params={"after": bad})
            assert response.status_code == 400
            assert "'after'" in response.json()["detail"]
        assert "ResponseError" not in server.log()


def redis_clients(private_redis: ThrowawayRedis) -> int:
    """Connections to the private server, not counting the one asking."""
    with private_redis.client() as probe:
        return len(probe.client_list()) - 1


async def open_streams(url: str, count: int, opened: list, ready: asyncio.Event,
                       done: asyncio.Event, received: list) -> None:
    """Hold ``count`` /events streams open until ``done``; each records its first event."""
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        async def one() -> None:
            async with client.stream("GET", "/events") as response:
                lines = response.aiter_lines()
                assert await lines.__anext__() == ": connected"
                opened.append(1)
                if len(opened) == count:
                    ready.set()
                async for line in lines:
                    if line.startswith("event: "):
                        received.append(line)
                        break
                await done.wait()
        await asyncio.gather(*(one() for _ in range(count)))


@pytest.mark.timeout(600)
def test_a_thousand_streams_cost_no_more_redis_connections_than_one(private_redis, tmp_path):
    with serve(private_redis, tmp_path) as server:
        async def scenario() -> tuple[int, int, int]:
            done, received = asyncio.Event(), []
            first_ready, rest_ready = asyncio.Event(), asyncio.Event()
            first = asyncio.create_task(open_streams(server.url, 1, [], first_ready, done,
                                                     received))
            await asyncio.wait_for(first_ready.wait(), 60)
            with_one = redis_clients(private_redis)
            rest = asyncio.create_task(open_streams(server.url, STREAMS - 1, [], rest_ready,
                                                    done, received))
            await asyncio.wait_for(rest_ready.wait(), 300)
            with_all = redis_clients(private_redis)
            queue = RedisTaskQueue.connect(private_redis.url, queue_name=QUEUE)
            queue.add_task({"type": "sleep", "seconds": 0})  # one event for every stream
            queue.close()
            while len(received) < STREAMS:
                await asyncio.sleep(0.05)
            done.set()
            await asyncio.gather(first, rest)
            return with_one, with_all, len(received)

        with_one, with_all, delivered = asyncio.run(asyncio.wait_for(scenario(), 600))
        print(f"Redis connections: {with_one} with 1 stream, {with_all} with {STREAMS}; "
              f"one event delivered to {delivered} streams")
        assert with_all <= with_one
        assert delivered == STREAMS
        assert "Too many connections" not in server.log()
