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
from collections import Counter
from collections.abc import Iterator

import pytest

from workshop.exercises import SOURCE_ENV
from workshop.redis_connection import LOCAL_URL, RedisTarget, ping, resolve_redis
from workshop.testing import FakeClock

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# At the end of a run: the time each folder's tests took, next to its budget.
pytest_plugins = ["workshop.suite_time"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--solutions",
        action="store_true",
        help="exercise tests check solutions/ instead of your own exercise files",
    )


# An exercise test that waits for a learner's loop gets a short limit of its own: a
# mistake should fail in seconds with a named test, not stall for the suite's 120 s.
EXERCISE_TIMEOUT = 30


# The learner's quick loop is `pytest -m "not slow"` (about a minute): a test that starts
# processes (multiprocess) or kills them (chaos) is slow without having to say so.
IMPLIES_SLOW = ("multiprocess", "chaos")


@pytest.hookimpl(tryfirst=True)  # before -m deselects, so "not slow" sees the implied marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name == "exercises" and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(EXERCISE_TIMEOUT))
        if item.get_closest_marker("slow") is None and any(
                item.get_closest_marker(name) for name in IMPLIES_SLOW):
            item.add_marker(pytest.mark.slow)
    # `make test` hands whole files to two workers: a long file handed out last would keep
    # one worker busy while the other idles. The files with the most slow tests go first
    # (a stable sort: each file's tests stay together and in their order).
    slow_tests = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow_tests[item.path])


def pytest_configure(config: pytest.Config) -> None:
    # Set before test modules are collected, because they load their exercise on import.
    if config.getoption("--solutions"):
        os.environ[SOURCE_ENV] = "solutions"


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


# The suite's Redis, chosen once per run: (target, None) or (None, why there is none).
_suite_redis: tuple[RedisTarget | None, str | None] | None = None
NO_REDIS_REASON = "no Redis available (how to get one: at the start and the end of this run)"


def suite_redis() -> tuple[RedisTarget | None, str | None]:
    global _suite_redis
    if _suite_redis is None:
        if IN_CI:
            url = os.environ.get("REDIS_URL", LOCAL_URL)
            version = ping(url, timeout=2)
            source = "REDIS_URL" if "REDIS_URL" in os.environ else "local server"
            _suite_redis = ((RedisTarget(url, source, multiprocess=True, version=version), None)
                            if version else (None, f"CI=true but no Redis answers at {url}"))
        else:
            try:
                _suite_redis = (resolve_redis(announce=False), None)
            except RuntimeError as error:
                _suite_redis = (None, str(error))
    return _suite_redis


def pytest_collection_finish(session: pytest.Session) -> None:
    """One line at the start of the run: which Redis the integration tests use.

    Only when a collected test needs Redis: a run of exercise tests alone never
    looks for one (nor starts an embedded server).
    """
    if not any("redis_target" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    target, problem = suite_redis()
    if target is not None:
        reporter.write_line(f"integration tests use {target.banner()}")
    else:
        reporter.write_line("integration tests: no Redis available; they will be skipped.")
        for line in problem.splitlines():
            reporter.write_line(line)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The skips, one line per reason (pytest's ``-rs`` repeats a reason once per test file line)."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons: dict[str, int] = {}
    for report in skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ").splitlines()[0]
        reasons[reason] = reasons.get(reason, 0) + 1
    terminalreporter.section("skipped, by reason", sep="-")
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{count:4d} skipped: {reason}")
    target, problem = suite_redis() if _suite_redis is not None else (None, None)
    if problem and NO_REDIS_REASON in reasons:
        terminalreporter.write_line(problem)


@pytest.fixture(scope="session")
def redis_target() -> RedisTarget:
    """The Redis the integration tests use.

    In CI a real server must answer (REDIS_URL or the local one): the tests fail
    rather than skip. On a learner's machine the embedded server is fine, and
    with no Redis at all the integration tests are skipped (the header of the run
    says why and how to get one).
    """
    target, problem = suite_redis()
    if target is not None:
        return target
    if IN_CI:
        pytest.fail(f"{problem}: integration tests must run in CI")
    pytest.skip(NO_REDIS_REASON)


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
    # Session 5 names its keys {name}:... (a Redis Cluster hash tag), the others name:...
    keys = [key for pattern in (f"{name}*", f"{{{name}}}*")
            for key in redis_client.scan_iter(match=pattern, count=1000)]
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
