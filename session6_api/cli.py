"""``python -m session6_api serve``: the API, two workers and the relay in one command.

    python -m session6_api serve [--host 127.0.0.1] [--port 8000] [--workers 2]
    python -m session6_api relay        # only the outbox relay (the demos kill it)
    python -m session6_api cleanup [--older-than-days 30]   # retention, by hand or from cron

``serve`` starts the worker processes (session 5's ``WorkerFleet``), then the
API with the outbox relay and the event follower in two threads of its
process, prints the URL and serves until Ctrl-C, which stops all of them:
uvicorn finishes its requests, the workers finish their task (SIGTERM), and
nothing is left running. Meanwhile it supervises the workers: one that dies is
replaced within a second; and they die with ``serve`` if it is killed
(supervision.py), so the same command can start it again.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from session4_redis.workers.redis_connection import RedisUnavailableError, resolve_redis

from .config import ApiConfig
from .server_limits import quiet_repeats, uvicorn_limits
from .supervision import Supervisor, serve_fleet

SHUTDOWN_GRACE = 3  # seconds open requests (SSE streams) get after Ctrl-C


def stopping_server(app, config, on_exit=None):
    """A uvicorn server that also flags Ctrl-C on the app (``app.state.shutting_down``), so
    a stream that looks at the flag (the dashboard's) ends by itself within the grace
    period instead of being cancelled in the middle of a write; ``on_exit()`` runs then
    too (the supervisor stops replacing workers that Ctrl-C is stopping)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            app.state.shutting_down = True
            if on_exit is not None:
                on_exit()
            super().handle_exit(sig, frame)

    return Server(config)


def with_bind_address(allowed: tuple[str, ...], host: str) -> tuple[str, ...]:
    """The host names to answer: ``allowed`` and the ``--host`` address itself, unless that is
    a wildcard (0.0.0.0 or ::), which names no host (set SESSION6_ALLOWED_HOSTS then)."""
    if host in ("0.0.0.0", "::", "") or host in allowed:
        return allowed
    return (*allowed, host)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m session6_api",
                                     description="Session 6: the queue behind a web API")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="API + workers + relay in one command")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    serve.add_argument("--queue", default=None, help="queue name (default $QUEUE_NAME or "
                                                     "image_processing)")
    serve.add_argument("--redis-url", default=None, help="default $REDIS_URL, then the local "
                                                         "server, then an embedded one")
    serve.add_argument("--database-url", default=None,
                       help="default $DATABASE_URL, else a SQLite file under output/session6/")
    serve.add_argument("--in-request-route", action="store_true", help=argparse.SUPPRESS)
    sub.add_parser("relay", help="run only the outbox relay")
    clean = sub.add_parser("cleanup", help="delete sent outbox rows of finished tasks, unused "
                                           "uploads and, with --older-than-days, old finished "
                                           "tasks and their results")
    clean.add_argument("--older-than-days", type=float, default=None, metavar="DAYS",
                       help="also delete finished tasks created more than DAYS days ago")
    clean.add_argument("--database-url", default=None,
                       help="default $DATABASE_URL, else the SQLite file under output/session6/")
    return parser


def cleanup(args: argparse.Namespace) -> int:
    """The database is the long-term record; this is how it stays the size you choose."""
    from .images import ImageLibrary
    from .services import open_store

    if args.older_than_days is not None and args.older_than_days < 0:
        print("error: --older-than-days must be 0 or more", file=sys.stderr)
        return 2
    config = ApiConfig.from_env(database_url=args.database_url)
    store = open_store(config)
    images = ImageLibrary(config.images_dir, config.samples_dir,
                          max_bytes=config.max_upload_bytes, max_pixels=config.max_image_pixels)
    try:
        outbox = store.prune_outbox()
        uploads = images.expire_unused(config.upload_ttl, store.images_in_use) \
            if config.images_dir.is_dir() else 0
        tasks, results = [], 0
        if args.older_than_days is not None:
            tasks = store.delete_finished(args.older_than_days * 86400)
            for row in tasks:
                path = Path(row.result_path) if row.result_path else None
                if path and path.parent == config.results_dir and path.is_file():
                    path.unlink()
                    results += 1
    finally:
        store.close()
    older = (f", {len(tasks)} finished tasks older than {args.older_than_days:g} days and "
             f"{results} result files" if args.older_than_days is not None else "")
    print(f"cleanup: deleted {outbox} sent outbox rows of finished tasks, {uploads} unused "
          f"uploads{older}.", flush=True)
    return 0


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    if args.workers < 0:
        print("error: --workers must be 0 or more", file=sys.stderr)
        return 2
    try:
        target = resolve_redis(args.redis_url)  # an embedded server lives as long as we do
    except RedisUnavailableError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    config = ApiConfig.from_env(redis_url=target.url, queue_name=args.queue,
                                database_url=args.database_url,
                                in_request_route=args.in_request_route or None)
    config = config.replace(allowed_hosts=with_bind_address(config.allowed_hosts, args.host))
    os.environ["REDIS_URL"] = target.url or ""  # the worker processes use the same server
    fleet = serve_fleet(target.url or "", config.queue_name,
                        allowed_dirs=[config.data_dir, os.getcwd()])
    supervisor = Supervisor(fleet)
    try:
        if args.workers:
            fleet.start(args.workers)
            supervisor.start()  # a worker that dies is replaced
        app = create_app(config)
        database = config.database_url.split("@")[-1]
        print(f"session6_api: http://{args.host}:{args.port}  (docs: /docs)  "
              f"queue {config.queue_name!r} on {target.source}, {args.workers} workers, "
              f"database {database}. Ctrl-C stops everything.", flush=True)
        try:
            # An open SSE stream never ends by itself: give streams a few seconds on
            # Ctrl-C, then close them, or shutdown would wait for the last browser.
            quiet_repeats()  # a flood of one error is one line per interval
            stopping_server(app, uvicorn.Config(app, host=args.host, port=args.port,
                                                log_level="warning",
                                                timeout_graceful_shutdown=SHUTDOWN_GRACE,
                                                **uvicorn_limits(config.header_timeout)),
                            on_exit=supervisor.halt).run()
        except KeyboardInterrupt:  # uvicorn shut down cleanly, then re-raised Ctrl-C
            pass
    finally:
        supervisor.stop()
        fleet.stop()
    print("session6_api: stopped the API, the relay and the workers.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "cleanup":
        return cleanup(args)
    from .relay import main as relay_main

    relay_main()
    return 0
