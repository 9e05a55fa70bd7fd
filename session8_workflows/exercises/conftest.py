"""Fixtures for session 8's exercises: fakeredis, with a second connection to the same server.

``r`` is your code's connection; ``other`` is another scheduler's or worker's,
which the tests use to change things at the worst moment.
"""

import fakeredis
import pytest


@pytest.fixture
def server():
    return fakeredis.FakeServer()


@pytest.fixture
def r(server):
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def other(server):
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    yield client
    client.close()
