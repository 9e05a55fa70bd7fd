"""``python -m workshop doctor``: check the machine before class, with a fix for each problem.

Each check returns a ``Check``: OK, WARN (works, but not the best set-up) or FAIL
(something in the workshop will not work), and the command that fixes it.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import socket
import sys
import tempfile
import warnings
from dataclasses import dataclass
from importlib import metadata

import redis

from .paths import OUTPUT_DIR
from .redis_connection import (
    LOCAL_URL,
    eviction_warning,
    how_to_get_redis,
    maxmemory_policy,
    ping,
    pip_command,
    redact,
    start_embedded,
)

MIN_PYTHON = (3, 10)
# import name -> pip name
REQUIRED_PACKAGES = {
    "redis": "redis",
    "fakeredis": "fakeredis",
    "PIL": "Pillow",
    "matplotlib": "matplotlib",
    "rich": "rich",
    "pytest": "pytest",
    "nbclient": "nbclient",
}


@dataclass
class Check:
    name: str
    status: str  # "OK", "WARN" or "FAIL"
    detail: str
    fix: str = ""


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info >= MIN_PYTHON:
        return Check("Python", "OK", f"{version} ({sys.executable})")
    return Check("Python", "FAIL", f"{version} is too old; the workshop needs 3.10 or newer",
                 "install Python 3.10+ and run: make PYTHON=python3.12 test")


def check_packages() -> Check:
    missing = []
    versions = []
    for module, package in REQUIRED_PACKAGES.items():
        try:
            importlib.import_module(module)
            versions.append(f"{package} {metadata.version(package)}")
        except ImportError:
            missing.append(package)
    if missing:
        return Check("Packages", "FAIL", "missing: " + ", ".join(missing),
                     f"{pip_command()} install -r requirements.txt   (or: make install)")
    return Check("Packages", "OK", ", ".join(versions))


def check_workshop_import() -> Check:
    try:
        importlib.import_module("workshop.paths")
    except ImportError as error:
        return Check("Repository installed", "FAIL", str(error),
                     f"{pip_command()} install -r requirements.txt   (or: make install)")
    return Check("Repository installed", "OK", "session packages import from any folder")


def check_redis() -> Check:
    """Which Redis the demos will use, in the documented order."""
    url = os.environ.get("REDIS_URL")
    if url:
        version = ping(url, timeout=2)
        if version:
            return Check("Redis", "OK", f"REDIS_URL {redact(url)} answers (version {version})")
        return Check("Redis", "FAIL", f"REDIS_URL={redact(url)} does not answer",
                     "start that server, fix REDIS_URL, or `unset REDIS_URL` to use the local "
                     "or an embedded one")
    version = ping(LOCAL_URL)
    if version:
        return Check("Redis", "OK", f"local server at {LOCAL_URL} (version {version})")
    embedded = start_embedded()
    if embedded:
        return Check("Redis", "WARN",
                     f"no server at {LOCAL_URL}; demos will start an {embedded.source} "
                     f"(tested now: version {embedded.version})",
                     "fine for class; for redis-cli inspection start a server: make redis")
    return Check("Redis", "FAIL", f"no server at {LOCAL_URL} and no embedded server available",
                 how_to_get_redis().replace("\n", "\n      "))


def check_eviction_policy() -> Check:
    """Does the server the demos use delete keys when it is full? A queue must not live there."""
    url = os.environ.get("REDIS_URL") or (LOCAL_URL if ping(LOCAL_URL) else None)
    if url is None:
        return Check("Eviction policy", "OK", "no server to check (an embedded one never evicts)")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            policy = maxmemory_policy(client)
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as error:
        return Check("Eviction policy", "WARN", f"could not read it from {redact(url)}: {error}")
    if policy is None:
        return Check("Eviction policy", "WARN",
                     f"{redact(url)} does not say (CONFIG GET is not allowed for this user)",
                     "ask whoever runs the server: the queue needs maxmemory-policy noeviction")
    warning = eviction_warning(policy)
    if warning:
        return Check("Eviction policy", "FAIL", f"{redact(url)}: {warning}",
                     "redis-cli CONFIG SET maxmemory-policy noeviction   (on your own server)")
    return Check("Eviction policy", "OK", f"{policy}: a full server refuses writes, it "
                 f"never deletes tasks")


def check_start_method() -> Check:
    method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_context().get_start_method()
    detail = f"default start method: {method}"
    if method == "spawn":
        detail += " (each worker process re-imports its module: entry points must be importable)"
    return Check("Multiprocessing", "OK", detail)


def check_output_dir() -> Check:
    try:
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=OUTPUT_DIR):
            pass
    except OSError as error:
        return Check("Output folder", "FAIL", f"{OUTPUT_DIR}: {error}",
                     f"make {OUTPUT_DIR} writable, or run from a copy of the repository you own")
    return Check("Output folder", "OK", f"{OUTPUT_DIR} is writable")


# Session 6's service and session 7's engines (import name -> pip name): the class needs
# them importable, or `make serve` and the engine demos stop at their first line.
SESSION6_PACKAGES = {
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "sqlalchemy": "sqlalchemy",
    "multipart": "python-multipart",
    "prometheus_client": "prometheus-client",
    "httpx": "httpx",
}
SESSION7_PACKAGES = {"dramatiq": "dramatiq", "rq": "rq", "celery": "celery"}
SERVE_HOST, SERVE_PORT = "127.0.0.1", 8000  # where `make serve` listens by default


def _import_check(name: str, packages: dict[str, str]) -> Check:
    missing, versions = [], []
    for module, package in packages.items():
        try:
            with warnings.catch_warnings():  # python-multipart's old name warns when imported
                warnings.simplefilter("ignore")
                importlib.import_module(module)
            versions.append(f"{package} {metadata.version(package)}")
        except ImportError:
            missing.append(package)
        except metadata.PackageNotFoundError:
            versions.append(package)
    if missing:
        return Check(name, "FAIL", "missing: " + ", ".join(missing),
                     f"{pip_command()} install -r requirements.txt   (or: make install)")
    return Check(name, "OK", ", ".join(versions))


def check_session6_packages() -> Check:
    return _import_check("Session 6 (API)", SESSION6_PACKAGES)


def check_session7_engines() -> Check:
    return _import_check("Session 7 (engines)", SESSION7_PACKAGES)


def check_serve_port(host: str = SERVE_HOST, port: int = SERVE_PORT) -> Check:
    """`make serve` binds port 8000: something already there makes it fail at start-up."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            return Check(f"Port {port}", "WARN",
                         f"{host}:{port} is taken ({error.strerror}): `make serve` cannot start",
                         f"stop what listens there (`lsof -i :{port}`), or serve on another "
                         f"port: python -m session6_api serve --port 8001")
    return Check(f"Port {port}", "OK", f"{host}:{port} is free for `make serve`")


def check_database_url() -> Check:
    """Session 6's database: a PostgreSQL that DATABASE_URL names must answer."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return Check("Database", "OK", "DATABASE_URL not set: session 6 uses a SQLite file "
                     "under output/session6/")
    try:
        import sqlalchemy as sa
    except ImportError:
        return Check("Database", "FAIL", "SQLAlchemy is not installed",
                     f"{pip_command()} install -r requirements.txt   (or: make install)")
    shown = redact(url)
    try:
        args = {"connect_timeout": 3} if url.startswith("postgresql") else {}
        engine = sa.create_engine(url, connect_args=args)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as error:  # a driver missing, a refused connection, a bad URL
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        return Check("Database", "FAIL", f"DATABASE_URL={shown} does not answer: {first_line}",
                     "start that database, fix DATABASE_URL, or `unset DATABASE_URL` to use "
                     "SQLite")
    return Check("Database", "OK", f"DATABASE_URL {shown} answers")


def check_chromium() -> Check:
    """Only the dashboard's browser tests need Chromium: a note, never a failure."""
    try:
        from session6_api.testing.dashboard_testing import HOW_TO_GET_CHROMIUM, chromium_path
    except ImportError as error:
        return Check("Chromium", "WARN", f"cannot look for it: {error}")
    found = chromium_path()
    if found:
        return Check("Chromium", "OK", f"{found} (session 6's browser tests use it)")
    return Check("Chromium", "WARN", "not found: only session 6's browser tests need it "
                 "(they skip without it; the dashboard itself works in any browser)",
                 HOW_TO_GET_CHROMIUM)


CHECKS = (check_python, check_packages, check_workshop_import, check_redis,
          check_eviction_policy, check_start_method, check_output_dir,
          check_session6_packages, check_session7_engines, check_serve_port,
          check_database_url, check_chromium)


def run_doctor() -> int:
    """Print one line per check (and its fix); exit status 1 if any check failed."""
    results = []
    for check in CHECKS:
        try:
            results.append(check())
        except Exception as error:  # a doctor must report, not crash
            results.append(Check(check.__name__.removeprefix("check_"), "FAIL", repr(error)))
    width = max(len(r.name) for r in results)
    for result in results:
        print(f"[{result.status:<4}] {result.name:<{width}}  {result.detail}")
        if result.fix and result.status != "OK":
            print(f"       fix: {result.fix}")
    failed = sum(r.status == "FAIL" for r in results)
    print("\nAll set." if not failed else f"\n{failed} problem(s) to fix before class.")
    return 1 if failed else 0
