"""Session 7's fixture for the tests and exercises that need a real RabbitMQ."""

from __future__ import annotations

import os

import pytest

from session7_engines.rabbitmq import amqp_url, unavailable


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """The AMQP URL of a RabbitMQ that answers; skipped with how to start one if none does.

    Under ``CI=true`` the tests fail instead: there they must run.
    """
    url = amqp_url()
    why = unavailable(url)
    if why is None:
        return url
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{why}; under CI=true the RabbitMQ tests must run")
    pytest.skip(why)
