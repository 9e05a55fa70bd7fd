"""Redis URLs with passwords and TLS work end to end, and the passwords never leak.

A production Redis has a password (``requirepass`` or an ACL user) and, across
a network, TLS (``rediss://``). These tests start throwaway ``redis-server``
processes with exactly that, on free ports, and check that the connection
helper, both sessions' queues, a worker process and the command lines accept
such URLs, and that neither banners nor error messages print the password.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from urllib.parse import quote

import pytest
import redis
from _chaos_helpers import IN_CI, Processes, ThrowawayRedis, redis_server_binary

from workshop.paths import REPO_ROOT
from workshop.redis_connection import RedisUnavailableError, resolve_redis

pytestmark = [pytest.mark.redis]

# Characters that must be URL-encoded in a password: a learner will meet them.
PASSWORD = "s3cret/pa:ss@word%-" + uuid.uuid4().hex[:6]
SESSIONS = ["session4_redis", "session5_recovery"]
# The least-privilege user that README.md "Production notes" recommends, for the queue
# called {queue}: its own keys only, no dangerous commands except INFO (see below).
# Session 4's keys are q:..., session 5's {q}:... (a Redis Cluster hash tag): allow both.
ACL_RULES = ["on", f">{PASSWORD}", "~{queue}:*", "~{{{queue}}}:*", "+@all", "-@dangerous", "+info"]


def key_pattern(session: str, queue_name: str) -> str:
    """Every key of one queue, as a SCAN pattern (session 5 puts the name in braces)."""
    return f"{{{queue_name}}}:*" if session == "session5_recovery" else f"{queue_name}:*"


def leaks(text: str, password: str = PASSWORD) -> list[str]:
    """The forms of ``password`` that appear in ``text`` (plain or URL-encoded)."""
    return [form for form in {password, quote(password, safe="")} if form in text]


def _need_redis_server() -> None:
    if redis_server_binary() is None:
        if IN_CI:
            pytest.fail("CI=true: redis-server must be installed for the password/TLS tests")
        pytest.skip("no redis-server binary on PATH: cannot start a server with a password")


@pytest.fixture(scope="module")
def password_server():
    _need_redis_server()
    with ThrowawayRedis(password=PASSWORD) as server:
        yield server


@pytest.fixture(scope="module")
def tls_server():
    _need_redis_server()
    if shutil.which("openssl") is None:
        pytest.skip("no openssl binary to make a test certificate (the URL test still runs)")
    try:
        server = ThrowawayRedis(password=PASSWORD, tls=True)
        server.start()
    except RuntimeError as error:
        pytest.skip(f"this redis-server cannot serve TLS here: {error}")
    try:
        yield server
    finally:
        server.__exit__(None, None, None)


def _queue_module(session: str):
    return importlib.import_module(f"{session}.workers")


def _drain_with_a_worker_process(session: str, url: str, queue_name: str | None = None) -> None:
    """Queue noop tasks on ``url``, run one worker process on it, check all completed."""
    workers = _queue_module(session)
    queue_name = queue_name or f"sec-{uuid.uuid4().hex[:10]}"
    queue = workers.RedisTaskQueue(url=url, queue_name=queue_name)
    try:
        queue.check_connection()
        ids = queue.add_tasks([{"type": "noop", "n": n} for n in range(20)])
        with Processes() as procs:
            worker = procs.start(workers.run_worker_process, ("sec-worker", url, queue_name, True))
            worker.join(30)
            assert worker.exitcode == 0, f"the worker process failed (exit {worker.exitcode})"
        stats = queue.get_stats()
        assert (stats["completed"], stats["pending"]) == (len(ids), 0), stats
    finally:
        keys = list(queue.client.scan_iter(match=key_pattern(session, queue_name)))
        if keys:
            queue.client.delete(*keys)
        queue.close()


def _cli(session: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"{session}.workers", *args],
                          capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
                          env={**os.environ, **(env or {})})


# --- passwords ----------------------------------------------------------------------------


def test_a_password_url_works_and_the_banner_hides_it(password_server, capsys):
    target = resolve_redis(password_server.url, announce=True)
    banner = capsys.readouterr().out
    assert target.client().ping()
    assert "***" in banner and not leaks(banner), f"banner leaks the password: {banner!r}"
    assert not leaks(repr(target.banner()))


@pytest.mark.multiprocess
@pytest.mark.parametrize("session", SESSIONS)
def test_queue_and_worker_process_work_through_a_password_url(password_server, session):
    _drain_with_a_worker_process(session, password_server.url)


def test_an_acl_user_and_password_url_works(password_server):
    admin = redis.Redis.from_url(password_server.url)
    user = f"worker{uuid.uuid4().hex[:6]}"
    admin.acl_setuser(user, enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"],
                      channels=["*"], commands=["+@all"])
    try:
        url = f"redis://{user}:{quote(PASSWORD, safe='')}@127.0.0.1:{password_server.port}/0"
        target = resolve_redis(url, announce=False)
        assert target.client().ping()
        assert f"{user}:***@" in target.banner() and not leaks(target.banner())
    finally:
        admin.acl_deluser(user)
        admin.close()


def test_a_wrong_password_is_an_error_that_does_not_print_it(password_server):
    wrong = "not-the-" + PASSWORD
    url = f"redis://:{quote(wrong, safe='')}@127.0.0.1:{password_server.port}/0"
    with pytest.raises(RedisUnavailableError) as caught:
        resolve_redis(url, announce=False)
    assert not leaks(str(caught.value), wrong), str(caught.value)
    assert f"127.0.0.1:{password_server.port}" in str(caught.value), "it should say where"


@pytest.mark.parametrize("session", SESSIONS)
def test_queue_connect_with_a_wrong_password_does_not_print_it(password_server, session):
    wrong = "not-the-" + PASSWORD
    url = f"redis://:{quote(wrong, safe='')}@127.0.0.1:{password_server.port}/0"
    workers = _queue_module(session)
    # One error class for every session: the connection module is session 4's.
    with pytest.raises(RedisUnavailableError) as caught:
        workers.RedisTaskQueue.connect(url, queue_name="sec-wrong")
    assert not leaks(str(caught.value), wrong), str(caught.value)


@pytest.mark.parametrize("session", SESSIONS)
def test_cli_banner_and_errors_hide_the_password(password_server, session):
    ok = _cli(session, "stats", "--json", "--redis-url", password_server.url, "--queue", "sec-cli")
    assert ok.returncode == 0, ok.stderr
    assert "***" in ok.stderr and not leaks(ok.stdout + ok.stderr), ok.stderr
    from_env = _cli(session, "stats", "--queue", "sec-cli", env={"REDIS_URL": password_server.url})
    assert from_env.returncode == 0, from_env.stderr
    assert not leaks(from_env.stdout + from_env.stderr), from_env.stderr

    wrong = "not-the-" + PASSWORD
    bad_url = f"redis://:{quote(wrong, safe='')}@127.0.0.1:{password_server.port}/0"
    bad = _cli(session, "stats", "--redis-url", bad_url)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr, bad.stderr
    assert not leaks(bad.stdout + bad.stderr, wrong), bad.stderr


def _acl_user(server: ThrowawayRedis, queue: str, rules: list[str]) -> tuple[str, str]:
    """Create an ACL user with ``rules`` on ``server``; return (name, url)."""
    name = f"app{uuid.uuid4().hex[:6]}"
    admin = redis.Redis.from_url(server.url)
    try:
        admin.execute_command("ACL", "SETUSER", name, *[r.format(queue=queue) for r in rules])
    finally:
        admin.close()
    return name, f"redis://{name}:{quote(PASSWORD, safe='')}@127.0.0.1:{server.port}/0"


@pytest.mark.multiprocess
@pytest.mark.parametrize("session", SESSIONS)
def test_a_least_privilege_acl_user_runs_the_queue_and_nothing_else(password_server, session):
    """The README's ACL line: the queue, a worker process and the CLI work; other keys do not."""
    queue_name = f"sec-acl-{uuid.uuid4().hex[:8]}"
    name, url = _acl_user(password_server, queue_name, ACL_RULES)
    admin = redis.Redis.from_url(password_server.url)
    try:
        _drain_with_a_worker_process(session, url, queue_name)
        ok = _cli(session, "stats", "--json", "--redis-url", url, "--queue", queue_name)
        assert ok.returncode == 0, ok.stderr
        assert f"{name}:***@" in ok.stderr and not leaks(ok.stdout + ok.stderr), ok.stderr
        client = redis.Redis.from_url(url)
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.get("someone-else:secret")  # another application's key
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.flushall()  # @dangerous
        client.close()
    finally:
        admin.acl_deluser(name)
        admin.close()


def test_the_resolver_accepts_a_user_without_dangerous_commands(password_server):
    queue_name = f"sec-acl-{uuid.uuid4().hex[:8]}"
    rules = [r for r in ACL_RULES if r != "+info"]
    name, url = _acl_user(password_server, queue_name, rules)
    admin = redis.Redis.from_url(password_server.url)
    try:
        assert redis.Redis.from_url(url).ping(), "the user can PING"
        resolve_redis(url, announce=False)
    finally:
        admin.acl_deluser(name)
        admin.close()


# --- nothing but text in Redis ---------------------------------------------------------------


def _every_value(client: redis.Redis, pattern: str) -> list[tuple[bytes, bytes]]:
    """(key, value) for every value stored under ``pattern``, whatever the key's type."""
    values = []
    for key in client.scan_iter(match=pattern, count=1000):
        kind = client.type(key)
        if kind == b"string":
            found = [client.get(key)]
        elif kind == b"hash":
            found = [v for pair in client.hgetall(key).items() for v in pair]
        elif kind == b"list":
            found = client.lrange(key, 0, -1)
        elif kind == b"set":
            found = list(client.smembers(key))
        elif kind == b"zset":
            found = client.zrange(key, 0, -1)
        elif kind == b"stream":
            found = [v for _, entry in client.xrange(key) for pair in entry.items() for v in pair]
        else:
            raise AssertionError(f"unexpected key type {kind!r} at {key!r}")
        values += [(key, v) for v in found]
    return values


@pytest.mark.parametrize("session", SESSIONS)
def test_everything_a_queue_stores_is_text_never_pickle(redis_target, session, tmp_path):
    """After good, failing and bad tasks, every key and value is UTF-8 text; task data is JSON."""
    from workshop.images import generated_image

    workers = _queue_module(session)
    queue_name = f"sec-text-{uuid.uuid4().hex[:8]}"
    queue = workers.RedisTaskQueue(url=redis_target.url, queue_name=queue_name)
    raw = redis.Redis.from_url(redis_target.url)
    try:
        generated_image(32, 24).save(tmp_path / "in.png")
        queue.add_tasks([
            {"image_path": str(tmp_path / "in.png"), "output_path": str(tmp_path / "out.png")},
            {"type": "noop"}, {"type": "sleep", "seconds": 0},
            {"image_path": str(tmp_path / "missing.png"), "output_path": str(tmp_path / "x.png")},
            {"type": "no-such-type", "note": "caf\u00e9 \u2615"}])
        kwargs = {"allowed_dirs": [tmp_path]} if session == "session5_recovery" else {}
        # Session 4's worker takes a pipeline second; session 5's takes it as a keyword.
        worker = (workers.RedisWorker("text-worker", queue, log=None, **kwargs) if kwargs
                  else workers.RedisWorker("text-worker", None, queue, log=None))
        worker.start(burst=True, **({"handle_signals": False} if kwargs else {}))
        values = _every_value(raw, key_pattern(session, queue_name))
        assert len(values) > 20, f"the run stored too little to judge: {len(values)} values"
        for key, value in values:
            assert not value.startswith(b"\x80"), f"{key!r} holds a pickle: {value[:20]!r}"
            value.decode("utf-8")  # UnicodeDecodeError: not text
        prefix = key_pattern(session, queue_name)[:-1]
        for key in raw.scan_iter(match=f"{prefix}task:*"):
            json.loads(raw.hget(key, "data"))
            if raw.hget(key, "result"):  # session 5: the result is one JSON field of the task
                json.loads(raw.hget(key, "result"))
        for key in raw.scan_iter(match=f"{prefix}result:*"):  # session 4: a hash of JSON values
            for value in raw.hvals(key):
                json.loads(value)
    finally:
        queue.clear()
        queue.close()
        raw.close()


# --- TLS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("session", SESSIONS)
def test_a_rediss_url_gives_a_tls_connection_without_connecting(session):
    """Parsing only: the host does not exist, and nothing is sent."""
    url = f"rediss://:{quote(PASSWORD, safe='')}@redis.example.invalid:6380/2"
    queue = _queue_module(session).RedisTaskQueue(url=url, queue_name="sec-tls")
    pool = queue.client.connection_pool
    assert pool.connection_class is redis.SSLConnection, pool.connection_class
    assert pool.connection_kwargs["password"] == PASSWORD, "the password is decoded from the URL"
    assert pool.connection_kwargs["db"] == 2
    assert not leaks(repr(queue)) and not leaks(repr(queue.client)), repr(queue.client)
    queue.close()


def test_the_resolver_keeps_tls_and_hides_the_password_when_unreachable():
    url = f"rediss://:{quote(PASSWORD, safe='')}@127.0.0.1:1/0"
    with pytest.raises(RedisUnavailableError) as caught:
        resolve_redis(url, announce=False)
    assert "rediss://:***@127.0.0.1:1/0" in str(caught.value)
    assert not leaks(str(caught.value))


@pytest.mark.multiprocess
@pytest.mark.parametrize("session", SESSIONS)
def test_queue_and_worker_process_work_over_tls(tls_server, session, capsys):
    target = resolve_redis(tls_server.url, announce=True)
    client = target.client()
    assert client.connection_pool.connection_class is redis.SSLConnection
    assert client.ping()
    assert client.config_get("port")["port"] == "0", \
        "the server should have no plain-text port, so this PING went over TLS"
    client.close()
    banner = capsys.readouterr().out
    assert banner.startswith("Redis: --redis-url (rediss://:***@") and not leaks(banner), banner
    _drain_with_a_worker_process(session, tls_server.url)
    ok = _cli(session, "stats", "--json", "--redis-url", tls_server.url, "--queue", "sec-tls")
    assert ok.returncode == 0, ok.stderr
    assert not leaks(ok.stdout + ok.stderr), ok.stderr
