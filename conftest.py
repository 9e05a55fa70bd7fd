"""Fixtures shared by every test in the repository.

- ``--solutions``: exercise tests check ``solutions/`` instead of the learner's files.
- ``fake_clock``: time that moves only when the test says so.
- ``redis_target`` / ``redis_url`` / ``redis_client`` / ``queue_name``: a real Redis
  (REDIS_URL, the local server, or the embedded fallback), a unique queue name per
  test, and cleanup of that test's keys only. Never FLUSHDB: this may be a
  learner's own server.
- ``fake_redis``: an in-process fakeredis client for fast unit tests.
- ``mp_context``: runs a multiprocessing test under ``fork`` and ``spawn`` (the
  default on macOS and Windows), so code that only works with ``fork`` is caught.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import uuid
from collections.abc import Iterator

import pytest

from workshop.exercises import SOURCE_ENV
from workshop.redis_connection import LOCAL_URL, RedisTarget, ping, resolve_redis
from workshop.testing import FakeClock

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--solutions",
        action="store_true",
        help="exercise tests check solutions/ instead of your own exercise files",
    )


# An exercise test that waits for a learner's loop gets a short limit of its own: a
# mistake should fail in seconds with a named test, not stall for the suite's 120 s.
EXERCISE_TIMEOUT = 30


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name == "exercises" and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(EXERCISE_TIMEOUT))


def pytest_configure(config: pytest.Config) -> None:
    # Set before test modules are collected, because they load their exercise on import.
    if config.getoption("--solutions"):
        os.environ[SOURCE_ENV] = "solutions"


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def redis_target() -> RedisTarget:
    """The Redis the integration tests use.

    In CI a real server must answer (REDIS_URL or the local one): the tests fail
    rather than skip. On a learner's machine the embedded server is fine, and
    with no Redis at all the integration tests are skipped with the reason.
    """
    if IN_CI:
        url = os.environ.get("REDIS_URL", LOCAL_URL)
        version = ping(url, timeout=2)
        if version is None:
            pytest.fail(f"CI=true but no Redis answers at {url}: integration tests must run in CI")
        return RedisTarget(url, "REDIS_URL" if "REDIS_URL" in os.environ else "local server",
                           multiprocess=True, version=version)
    try:
        return resolve_redis(announce=False)
    except RuntimeError as error:
        pytest.skip(f"no Redis available: {error}")


@pytest.fixture(scope="session")
def redis_url(redis_target: RedisTarget) -> str:
    assert redis_target.url is not None
    return redis_target.url


@pytest.fixture
def redis_client(redis_target: RedisTarget) -> Iterator:
    client = redis_target.client(decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def queue_name(redis_client) -> Iterator[str]:
    """A queue name no other test uses; its keys are deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    keys = list(redis_client.scan_iter(match=f"{name}*", count=1000))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def fake_redis():
    import fakeredis

    client = fakeredis.FakeRedis(decode_responses=True)
    yield client
    client.close()


_START_METHODS = ["fork", "spawn"] if sys.platform.startswith("linux") else ["spawn"]


@pytest.fixture(params=_START_METHODS)
def mp_context(request: pytest.FixtureRequest):
    """A multiprocessing context; the test runs once per start method."""
    return multiprocessing.get_context(request.param)
