"""``python -m session6_api.teaching.bench``: what answering ``202`` buys, measured in one run.

N image tasks are posted by C concurrent async clients (httpx) to a live server
(``python -m session6_api serve`` in a child process, two workers), twice:

1. ``POST /tasks``: record, answer ``202``; the workers do the work later;
2. ``POST /bench/in-request``: do the same image work inside the request, then
   answer (session 1's "without a queue", over HTTP).

It prints requests/s and the p50/p99 latency of the POST for both, and the
ratios. Both variants run in the same process against the same server, one
after the other (the queue is drained first, so the workers are idle during
variant 2). ``--quick`` is a small run for the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from session2_pipeline.core.samples import OUTPUT_DIR
from session4_redis.workers.redis_connection import resolve_redis
from session5_recovery.workers import RedisTaskQueue

from ..testing.livetest import LiveServer

BODY = {"image": "sample_01_640x480.jpg", "filters": ["blur:radius=2", "edges", "grayscale"]}


@dataclass
class Variant:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def post_many(url: str, path: str, count: int, concurrency: int) -> Variant:
    """``count`` POSTs to ``path`` by ``concurrency`` clients; latency of each, total time."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    next_index = 0

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal next_index
        while next_index < count:
            next_index += 1
            started = time.perf_counter()
            response = await client.post(path, json=BODY)
            latencies.append(time.perf_counter() - started)
            statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        await client.get("/health")  # connections warm, the first request is not special
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Variant(path, len(latencies), seconds, 1000 * statistics.median(latencies),
                   1000 * percentile(latencies, 0.99), statuses)


def run(tasks: int, concurrency: int, workers: int = 2) -> dict:
    target = resolve_redis(announce=False)
    queue_name = f"bench-s6-{uuid.uuid4().hex[:8]}"
    scratch = Path(tempfile.mkdtemp(prefix="s6bench-"))
    server = LiveServer(redis_url=target.url or "", queue_name=queue_name,
                        database_url=f"sqlite:///{scratch / 'bench.db'}", data_dir=scratch,
                        workers=workers, extra_args=("--in-request-route",))
    queue = RedisTaskQueue.connect(target.url, queue_name=queue_name)
    try:
        server.start()
        accepted = asyncio.run(post_many(server.url, "/tasks", tasks, concurrency))
        drain_started = time.perf_counter()
        server.wait_for(lambda: httpx.get(server.url + "/stats", timeout=10).json()["database"]
                        ["completed"] >= tasks, 600, "the workers to finish every task")
        drained = time.perf_counter() - drain_started
        inline = asyncio.run(post_many(server.url, "/bench/in-request", tasks, concurrency))
    finally:
        server.stop()
        queue.clear()
        queue.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return {"tasks": tasks, "concurrency": concurrency, "workers": workers,
            "accepted": {**asdict(accepted), "per_second": accepted.per_second},
            "in_request": {**asdict(inline), "per_second": inline.per_second},
            "drain_seconds_after_last_202": drained,
            "throughput_ratio": accepted.per_second / inline.per_second,
            "p50_ratio": inline.p50_ms / accepted.p50_ms,
            "p99_ratio": inline.p99_ms / accepted.p99_ms}


def report(result: dict) -> str:
    a, b = result["accepted"], result["in_request"]
    lines = [
        f"{result['tasks']} tasks, {result['concurrency']} concurrent clients, "
        f"{result['workers']} workers, one run",
        f"{'variant':<28}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}  statuses",
        f"{'202 Accepted (POST /tasks)':<28}{a['per_second']:>12.1f}{a['p50_ms']:>10.1f}"
        f"{a['p99_ms']:>10.1f}  {a['statuses']}",
        f"{'work in the request':<28}{b['per_second']:>12.1f}{b['p50_ms']:>10.1f}"
        f"{b['p99_ms']:>10.1f}  {b['statuses']}",
        f"ratio: 202 answers {result['throughput_ratio']:.1f}x more requests/s; p50 latency "
        f"{result['p50_ratio']:.1f}x lower, p99 {result['p99_ratio']:.1f}x lower",
        f"(the workers then needed {result['drain_seconds_after_last_202']:.1f} s to finish "
        f"the accepted tasks: the work did not disappear, it moved)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m session6_api.teaching.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=200, help="N tasks per variant (200)")
    parser.add_argument("--concurrency", type=int, default=20, help="C clients (20)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    parser.add_argument("--quick", action="store_true", help="a small run (30 tasks, 6 clients)")
    args = parser.parse_args(argv)
    tasks, concurrency = (30, 6) if args.quick else (args.tasks, args.concurrency)
    if tasks < 1 or concurrency < 1:
        parser.error("--tasks and --concurrency must be at least 1")
    result = run(tasks, concurrency, args.workers)
    print(report(result))
    path = OUTPUT_DIR / "session6" / "bench.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
