"""Every setting of the API in one frozen object, read from the environment once.

The defaults are the safe ones: the database is a SQLite file under ``output/``,
the server binds 127.0.0.1, no CORS, uploads are capped in bytes and in pixels
(a small PNG can decode to gigabytes: a "decompression bomb").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from session2_pipeline.core.samples import OUTPUT_DIR
from session5_recovery.workers import DEFAULT_QUEUE_NAME

DATA_DIR = OUTPUT_DIR / "session6"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # 10 MiB: a photo, not a film
MAX_IMAGE_PIXELS = 40_000_000  # about 8000 x 5000; Pillow's own warning starts at 89 M
MAX_WAIT_SECONDS = 30.0  # ?wait=S keeps a request (and a server thread) busy: cap it
RETRY_AFTER_SECONDS = 1  # what a 202 tells the client about when to look again
# A backend that does not answer within this many seconds is "down" for this request
# (503), instead of holding it for the client library's own default (redis-py: 5 s,
# then ten retries; PostgreSQL: the operating system's TCP timeout, minutes).
BACKEND_TIMEOUT_SECONDS = 2.0
OUTAGE_RETRY_AFTER_SECONDS = 5  # what a 503 tells the client about when to try again
# An idle SSE stream sends a comment this often: proxies and browsers close a line
# that says nothing for long (nginx's default read timeout is 60 s).
KEEP_ALIVE_SECONDS = 15.0
# The names this server answers to: a request for another Host (DNS rebinding:
# attacker.example resolving to 127.0.0.1) is refused. ``--host`` and
# SESSION6_ALLOWED_HOSTS add more.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
# A client gets this long to send a request head, and to send each piece of a body:
# a slow client cannot hold a connection (a file descriptor) for ever.
HEADER_TIMEOUT_SECONDS = 10.0
BODY_TIMEOUT_SECONDS = 30.0
# Uploads: a client may store this much per window (429 past it), and an upload no
# task uses is deleted after UPLOAD_TTL_SECONDS.
UPLOAD_BUDGET_BYTES = 32 * 1024 * 1024  # a class's photos, not a disk-filling loop
UPLOAD_BUDGET_WINDOW_SECONDS = 60.0
UPLOAD_TTL_SECONDS = 3600.0


def default_database_url(data_dir: Path = DATA_DIR) -> str:
    """A SQLite file in the session's data folder: works with nothing installed."""
    return f"sqlite:///{data_dir / 'tasks.db'}"


@dataclass(frozen=True)
class ApiConfig:
    """What the app, the relay and the CLI need to know; ``from_env`` reads it."""

    redis_url: str | None = None  # None: workshop.redis_connection resolves one
    database_url: str = field(default_factory=default_database_url)
    queue_name: str = DEFAULT_QUEUE_NAME
    data_dir: Path = DATA_DIR
    api_token: str | None = None  # set: every request that changes state needs it
    table_prefix: str = ""  # tests isolate parallel runs on one PostgreSQL with it
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_image_pixels: int = MAX_IMAGE_PIXELS
    retry_after: int = RETRY_AFTER_SECONDS
    background: bool = True  # run the relay and the event sync inside the app process
    in_request_route: bool = False  # the bench's "do the work before answering" variant
    backend_timeout: float = BACKEND_TIMEOUT_SECONDS
    outage_retry_after: int = OUTAGE_RETRY_AFTER_SECONDS
    keep_alive: float = KEEP_ALIVE_SECONDS
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS
    header_timeout: float = HEADER_TIMEOUT_SECONDS
    body_timeout: float = BODY_TIMEOUT_SECONDS
    upload_budget_bytes: int = UPLOAD_BUDGET_BYTES
    upload_budget_window: float = UPLOAD_BUDGET_WINDOW_SECONDS
    upload_ttl: float = UPLOAD_TTL_SECONDS

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"

    @property
    def samples_dir(self) -> Path:
        return self.data_dir / "samples"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> ApiConfig:
        """Settings from ``DATABASE_URL``, ``REDIS_URL``, ``QUEUE_NAME``, ``API_TOKEN``,
        ``SESSION6_DATA_DIR``, ``SESSION6_TABLE_PREFIX``, ``SESSION6_ALLOWED_HOSTS``
        (comma-separated names added to the local ones), and in seconds
        ``SESSION6_BACKEND_TIMEOUT``, ``SESSION6_KEEP_ALIVE``, ``SESSION6_HEADER_TIMEOUT``
        and ``SESSION6_BODY_TIMEOUT``; keyword overrides win."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("SESSION6_DATA_DIR") or DATA_DIR)
        values: dict[str, Any] = {
            "redis_url": env.get("REDIS_URL") or None,
            "database_url": env.get("DATABASE_URL") or default_database_url(data_dir),
            "queue_name": env.get("QUEUE_NAME") or DEFAULT_QUEUE_NAME,
            "data_dir": data_dir,
            "api_token": env.get("API_TOKEN") or None,
            "table_prefix": env.get("SESSION6_TABLE_PREFIX", ""),
            "allowed_hosts": LOCAL_HOSTS + tuple(
                h.strip() for h in env.get("SESSION6_ALLOWED_HOSTS", "").split(",") if h.strip()),
        }
        for name, variable in (("backend_timeout", "SESSION6_BACKEND_TIMEOUT"),
                               ("keep_alive", "SESSION6_KEEP_ALIVE"),
                               ("header_timeout", "SESSION6_HEADER_TIMEOUT"),
                               ("body_timeout", "SESSION6_BODY_TIMEOUT")):
            if env.get(variable):
                values[name] = float(env[variable])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> ApiConfig:
        return replace(self, **changes)
