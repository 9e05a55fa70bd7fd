"""The comparison, measured in one run: ``python -m session7_engines.compare [--quick]``.

For each engine (session 5 with and without prefetch, Dramatiq, RQ, Celery, our
Streams consumer), on this machine and this Redis, each with its own worker command,
and for Dramatiq and Celery also on RabbitMQ quorum queues (``dramatiq+rabbitmq``,
``celery+rabbitmq``: skipped with one line saying how to start RabbitMQ when it is
not running, except under ``CI=true``, where they must run):

1. throughput: no-op tasks and image tasks with 1 and 2 worker processes, as tasks/s
   and as a ratio to session 5 (no prefetch) measured in the same run;
2. kill -9 in the middle of a task: the process that runs it (found from the ledger:
   the task writes its pid when it starts) is SIGKILLed; does the task come back,
   after how long, how many times did it run, where did it end;
3. poison: a task that SIGKILLs whatever process runs it; where it ends, how many
   runs and how many worker-command restarts it cost, within a bounded window.

Reliability settings are the recommended ones (``settings.py``), and for the kill
test also each engine's defaults where they differ (Dramatiq's only without
``--quick``: its default heartbeat timeout is 60 s). Figures are printed and
saved to ``output/session7/compare.json`` (the notebook ``05_engines`` plots them).
Nothing here asserts a speed: it reports what happened.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import redis

from . import settings
from .rabbitmq import amqp_url, unavailable
from .runners import RABBITMQ_ENGINES, RUNNERS, Runner, Session5Runner
from .work import DEFAULT_FILTERS

ENGINES = ["session5", "session5+prefetch", "dramatiq", "rq", "celery", "streams",
           *RABBITMQ_ENGINES]
# Throughput batches are sized to take about ``seconds`` at the rate a small probe batch
# measured, so a fast engine is not timed on 30 ms and a slow one does not take minutes.
SIZES = {"quick": {"seconds": 0.8, "repeats": 1, "poison_window": 20.0, "kill_bound": 30.0},
         "full": {"seconds": 2.0, "repeats": 3, "poison_window": 30.0, "kill_bound": 120.0}}
PROBE = {"noop": 10, "image": 4}
MAX_BATCH = {"noop": 5000, "image": 400}
PREFETCH = 4
KILL_SLEEP_S = 1.0
KILL_TRIES = 3  # tasks tried when one ends before its kill (a very busy machine)


def make_runner(engine: str, redis_url: str, workdir: Path, profile: str = "recommended") -> Runner:
    if engine == "session5+prefetch":
        return Session5Runner(redis_url, workdir, profile=profile, prefetch=PREFETCH)
    return RUNNERS[engine](redis_url, workdir, profile=profile)


def image_tasks(workdir: Path, count: int, tag: str) -> list[tuple[str, dict[str, Any]]]:
    from session2_pipeline.core.samples import generated_image

    inputs = workdir / "in"
    inputs.mkdir(exist_ok=True)
    (workdir / "out").mkdir(exist_ok=True)
    for n in range(4):
        path = inputs / f"img{n}.jpg"
        if not path.exists():
            generated_image(320, 240, seed=n).save(path, quality=85)
    return [(f"{tag}-img-{n}", {"image_path": str(inputs / f"img{n % 4}.jpg"),
                                "output_path": str(workdir / "out" / f"{tag}-{n}.png"),
                                "filters": DEFAULT_FILTERS}) for n in range(count)]


def wait_for(condition: Any, bound: float, every: float = 0.02) -> bool:
    """Poll ``condition`` until true or ``bound`` seconds pass; whether it came true."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return bool(condition())


def measure_throughput(runner: Runner, items: list[tuple[str, dict[str, Any]]],
                       bound: float) -> float | None:
    """Tasks per second from the first enqueue to the last completion (None: unfinished)."""
    before = runner.completed_count()
    started = time.perf_counter()
    runner.enqueue_many(items)
    if not wait_for(lambda: runner.completed_count() - before >= len(items), bound):
        return None
    return len(items) / (time.perf_counter() - started)


def sized_throughput(runner: Runner, kind: str, workdir: Path, seconds: float,
                     tag: str, repeats: int = 1) -> dict[str, Any] | None:
    """Probe the rate with a few tasks, then time batches sized to last about ``seconds``.

    The median of ``repeats`` batches, so one hiccup of a busy machine does not decide.
    """
    def batch(count: int, name: str) -> list[tuple[str, dict[str, Any]]]:
        if kind == "image":
            return image_tasks(workdir, count, f"{tag}-{name}")
        return [(f"{tag}-{name}-noop-{n}", {"type": "noop"}) for n in range(count)]

    probe = measure_throughput(runner, batch(PROBE[kind], "probe"), 120)
    if probe is None:
        return None
    count = int(min(max(PROBE[kind], probe * seconds), MAX_BATCH[kind]))
    rates = [measure_throughput(runner, batch(count, f"batch{n}"), 120 + 3 * seconds)
             for n in range(repeats)]
    if None in rates:
        return None
    return {"rate": statistics.median(rates), "tasks": count, "repeats": repeats}


def kill_mid_task(runner: Runner, bound: float, tag: str = "kill") -> dict[str, Any]:
    """SIGKILL the process running a task; follow the task until it ends or ``bound`` passes.

    The kill must land while the task runs. On a very busy machine the task may end
    before it does (the pause below is wall-clock time): then the try does not count,
    and a new task is killed instead, a few times at most.
    """
    for attempt in range(KILL_TRIES):
        task_id = f"{runner.namespace}-{tag}-{attempt}"
        runner.enqueue(task_id, {"type": "sleep", "seconds": KILL_SLEEP_S})
        if not wait_for(lambda task_id=task_id: runner.holder_pid(task_id), 30):
            return {"error": "the task never started"}
        time.sleep(KILL_SLEEP_S / 4)  # in the middle of the task, not at its first line
        pid = runner.holder_pid(task_id)
        if pid is None or runner.ended(task_id):
            continue  # it ended (or moved) before the kill: not the scenario
        killed_at = time.time()
        os.kill(pid, signal.SIGKILL)
        break
    else:
        return {"error": f"the task ended before the kill in {KILL_TRIES} tries"}
    end = wait_for(lambda: runner.supervise() >= 0 and runner.ended(task_id), bound, every=0.05)
    runs = runner.runs(task_id)
    came_back = len(runs) > 1
    return {"came_back": came_back, "runs": len(runs),
            "recovery_s": round(runs[1][0] - killed_at, 2) if came_back else None,
            "ended": runner.ended(task_id) if end else f"not ended after {bound:g} s",
            "restarts": runner.restarts}


def poison(runner: Runner, window: float) -> dict[str, Any]:
    """A task that kills its worker every time: where does it end, and at what cost?"""
    task_id = f"{runner.namespace}-poison"
    restarts_before = runner.restarts
    runner.enqueue(task_id, {"type": "crash"})
    ended = wait_for(lambda: runner.supervise() >= 0 and runner.ended(task_id), window,
                     every=0.05)
    runs = len(runner.runs(task_id))
    return {"runs": runs, "ended": runner.ended(task_id) if ended
            else f"not ended after {window:g} s", "restarts": runner.restarts - restarts_before}


def scenarios(engine: str, profile: str, redis_url: str, workdir: Path,
              sizes: dict[str, Any]) -> dict[str, Any]:
    """kill -9 mid-task, then (recommended settings only) a poison task, on one fresh runner."""
    with make_runner(engine, redis_url, workdir, profile) as runner:
        runner.start(1)
        kill = {"engine": engine, "profile": profile,
                **kill_mid_task(runner, sizes["kill_bound"])}
        poisoned = poison(runner, sizes["poison_window"]) if profile == "recommended" else None
    return {"kill": kill, "poison": poisoned}


def run(quick: bool, engines: list[str], redis_url: str, log: Any = print,
        sizes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Measure everything for ``engines``; ``sizes`` overrides the quick or full sizes.

    Throughput runs one engine at a time. The kill and poison scenarios are mostly
    waiting for timeouts, so with ``quick`` they run side by side, one thread per
    engine (on a 2-core machine this adds a little to the delays they report).
    """
    sizes = {**SIZES["quick" if quick else "full"], **(sizes or {})}
    results: dict[str, Any] = {"machine": machine(redis_url), "quick": quick, "sizes": sizes,
                               "throughput": {}, "batches": {}, "kill": [], "poison": {},
                               "skipped": []}
    if set(engines) & set(RABBITMQ_ENGINES) and (why := unavailable()):
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"{why} (under CI=true the RabbitMQ rows must run)")
        skipped = [e for e in engines if e in RABBITMQ_ENGINES]
        engines = [e for e in engines if e not in RABBITMQ_ENGINES]
        results["skipped"].append(f"{', '.join(skipped)}: {why}")
    with tempfile.TemporaryDirectory(prefix="s7-compare-") as tmp:
        workdir = Path(tmp)
        for engine in engines:
            for processes in (1, 2):
                log(f"  throughput: {engine}, {processes} worker process(es) ...")
                with make_runner(engine, redis_url, workdir) as runner:
                    runner.start(processes)
                    for kind in ("noop", "image"):
                        key = f"{engine}|{kind}|{processes}"
                        measured = sized_throughput(runner, kind, workdir, sizes["seconds"],
                                                    f"{runner.namespace}-{processes}",
                                                    sizes["repeats"])
                        results["throughput"][key] = measured and measured["rate"]
                        results["batches"][key] = measured and measured["tasks"]
        jobs = [(e, "recommended") for e in engines if e != "session5+prefetch"]
        for engine in ("celery", "rq", "dramatiq"):
            if engine not in engines:
                continue
            if engine == "dramatiq" and quick:
                results["skipped"].append("dramatiq defaults kill -9: its default heartbeat "
                                          "timeout is 60 s (run without --quick)")
                continue
            jobs.append((engine, "defaults"))
        log(f"  kill -9 and poison: {', '.join(f'{e} ({p})' for e, p in jobs)} ...")
        if not jobs:
            outcomes = []
        elif quick:
            with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                outcomes = list(pool.map(lambda job: scenarios(*job, redis_url, workdir, sizes),
                                         jobs))
        else:
            outcomes = [scenarios(*job, redis_url, workdir, sizes) for job in jobs]
        for (engine, _), outcome in zip(jobs, outcomes, strict=True):
            results["kill"].append(outcome["kill"])
            if outcome["poison"] is not None:
                results["poison"][engine] = outcome["poison"]
    return results


def machine(redis_url: str) -> dict[str, Any]:
    client = redis.Redis.from_url(redis_url)
    try:
        server = client.info("server")
    finally:
        client.close()
    versions = {name: metadata.version(name) for name in ("dramatiq", "rq", "celery", "kombu",
                                                           "redis")}
    return {"cores": os.cpu_count(), "python": platform.python_version(),
            "redis_server": server.get("redis_version"), "rabbitmq_server": rabbitmq_version(),
            **versions}


def rabbitmq_version() -> str | None:
    """The RabbitMQ server's version, as it announces itself (None if it does not answer)."""
    if unavailable():
        return None
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url()))
    try:
        version = connection._impl.server_properties.get("version")
    finally:
        connection.close()
    return version.decode() if isinstance(version, bytes) else version


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    rabbit = f", RabbitMQ {m['rabbitmq_server']}" if m.get("rabbitmq_server") else ""
    lines = [f"machine: {m['cores']} cores, Python {m['python']}, Redis {m['redis_server']}"
             f"{rabbit}; dramatiq {m['dramatiq']}, rq {m['rq']}, celery {m['celery']}",
             "", f"throughput (tasks/s, median of {results['sizes']['repeats']} batch(es) of about "
             f"{results['sizes']['seconds']:g} s; x = ratio to session 5 without prefetch, same run)",
             f"{'engine':<20}{'noop 1p':>16}{'noop 2p':>16}{'image 1p':>16}{'image 2p':>16}"]
    through = results["throughput"]
    engines = list(dict.fromkeys(k.split("|")[0] for k in through))
    for engine in engines:
        cells = []
        for kind, processes in (("noop", 1), ("noop", 2), ("image", 1), ("image", 2)):
            value = through.get(f"{engine}|{kind}|{processes}")
            base = through.get(f"session5|{kind}|{processes}")
            if value is None:
                cells.append(f"{'-':>16}")
            else:
                ratio = f" {value / base:4.2f}x" if base else ""
                cells.append(f"{value:10.1f}{ratio:>6}")
        lines.append(f"{engine:<20}" + "".join(cells))
    lines += ["", f"kill -9 mid-task (a {KILL_SLEEP_S:g} s task; dead-worker timeout "
              f"{settings.DEAD_WORKER_TIMEOUT_S:g} s where it can be set)",
              f"{'engine':<19}{'profile':<13}{'came back':<11}{'after s':>8}{'runs':>6}"
              f"{'restarts':>10}  ended"]
    for row in results["kill"]:
        if "error" in row:
            lines.append(f"{row['engine']:<19}{row['profile']:<13}{row['error']}")
            continue
        after = "-" if row["recovery_s"] is None else f"{row['recovery_s']:.2f}"
        lines.append(f"{row['engine']:<19}{row['profile']:<13}{'yes' if row['came_back'] else 'no':<11}"
                     f"{after:>8}{row['runs']:>6}{row['restarts']:>10}  {row['ended']}")
    lines += ["", "poison (a task that SIGKILLs its worker; runs = worker processes it killed)",
              f"{'engine':<19}{'runs':>6}{'restarts':>10}  ended"]
    for engine, row in results["poison"].items():
        lines.append(f"{engine:<19}{row['runs']:>6}{row['restarts']:>10}  {row['ended']}")
    lines += [f"skipped: {s}" for s in results["skipped"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m session7_engines.compare",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (under two minutes)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"comma-separated subset of {','.join(ENGINES)}")
    parser.add_argument("--redis-url", default=None, help="default: $REDIS_URL, then local")
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON file (default output/session7/compare.json)")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engine(s) {unknown}; choose from {', '.join(ENGINES)}")
    # Session 5 is one of the engines compared; its connection module is the sessions' own.
    from session2_pipeline.core.samples import OUTPUT_DIR
    from session4_redis.workers.redis_connection import resolve_redis

    target = resolve_redis(url=args.redis_url) if args.redis_url else resolve_redis()
    if not target.multiprocess:
        print("the comparison needs a real Redis server that several processes share "
              "(start one with `make redis`, or set REDIS_URL)", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        results = run(args.quick, engines, target.url)
    except RuntimeError as error:  # a worker command that never started, RabbitMQ under CI
        print(error, file=sys.stderr)
        return 2
    results["seconds"] = round(time.monotonic() - started, 1)
    print(render(results))
    print(f"\nfinished in {results['seconds']:.0f} s")
    output = args.output or OUTPUT_DIR / "session7" / "compare.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"saved {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
