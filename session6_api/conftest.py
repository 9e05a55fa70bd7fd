"""Fixtures for session 6's tests and exercises: a database (SQLite, and PostgreSQL), an app.

- ``database_url``: each test runs on SQLite (a file in tmp_path) and on PostgreSQL
  (``TEST_DATABASE_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``).
  Under ``CI=true`` PostgreSQL must answer: the tests fail, never skip. Elsewhere
  they skip saying how to point them at a server. ``@pytest.mark.databases("sqlite")``
  narrows a test or a module to the databases named: an HTTP contract (status codes,
  messages, headers) does not depend on the database, while what goes through the
  store's queries (pages, counts, idempotency keys, events applied to rows) runs on both.
- ``table_prefix``: a prefix of its own per test, so parallel runs on one shared
  PostgreSQL never see each other's rows; the tables are dropped afterwards.
- ``api``: the app (relay and event follower NOT in background threads: the test
  runs them with ``api.pump()``) and a TestClient.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from session6_api.app import create_app
from session6_api.backends import Backends
from session6_api.config import LOCAL_HOSTS, ApiConfig

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# In-process clients (Starlette's TestClient, schemathesis) send "Host: testserver".
TEST_HOSTS = (*LOCAL_HOSTS, "testserver")


def postgres_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL)


def postgres_answers(url: str) -> str | None:
    """None if PostgreSQL answers at ``url``, else the reason."""
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # driver missing, refused, bad credentials...
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


@pytest.fixture(scope="session")
def _postgres() -> str:
    url = postgres_url()
    problem = postgres_answers(url)
    if problem is not None:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL does not answer at {url} ({problem}): the "
                        f"database tests must run in CI")
        pytest.skip(f"no PostgreSQL at {url} ({problem}); start one or set TEST_DATABASE_URL="
                    f"postgresql+psycopg://USER@HOST:5432/DB to run these tests on it")
    return url


DATABASES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that needs ``database_url`` runs once per database its ``databases`` mark names."""
    if "database_url" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("databases")
        names = list(marker.args) if marker else list(DATABASES)
        unknown = set(names) - set(DATABASES)
        if unknown:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: unknown database(s) {sorted(unknown)}; "
                                    f"choose from {DATABASES}")
        metafunc.parametrize("database_url", names, indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tasks.db'}"
    return request.getfixturevalue("_postgres")


@pytest.fixture
def table_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}_"


@dataclass
class Api:
    """The app under test, its client and its backends."""

    client: object  # fastapi.testclient.TestClient
    backends: Backends
    config: ApiConfig

    def pump(self) -> None:
        """Relay the outbox, then apply the queue's events to the rows: what the
        background threads do, done now, so a test needs no waiting."""
        self.backends.relay.run_once()
        while self.backends.sync.run_once():
            pass


@pytest.fixture
def api_config(tmp_path: Path, redis_url: str, queue_name: str, database_url: str,
               table_prefix: str) -> ApiConfig:
    return ApiConfig(redis_url=redis_url, database_url=database_url, queue_name=queue_name,
                     data_dir=tmp_path / "data", table_prefix=table_prefix, background=False,
                     allowed_hosts=TEST_HOSTS)


@pytest.fixture
def api(api_config: ApiConfig) -> Iterator[Api]:
    from fastapi.testclient import TestClient

    app = create_app(api_config)
    backends: Backends = app.state.backends
    try:
        with TestClient(app) as client:
            yield Api(client, backends, api_config)
    finally:
        backends.store.drop_schema()
        backends.store.close()
