"""Which reliability settings an engine runs with: ``recommended`` or ``defaults``.

The worker commands are separate programs started by the harness, so the
choice travels in environment variables (``S7_PROFILE``, ``S7_QUEUE``, ...) that
each engine's app module reads when the command imports it. The values below
are the ones this session recommends; ``defaults`` leaves every engine as it
ships. Where a default is too slow for a demo (Dramatiq's 60 s heartbeat
timeout), the recommended profile shortens it and the README says so.
"""

from __future__ import annotations

import os

ENV_PROFILE = "S7_PROFILE"
ENV_QUEUE = "S7_QUEUE"
ENV_BROKER = "S7_BROKER"
PROFILES = ("recommended", "defaults")
BROKERS = ("redis", "rabbitmq")

# Retries for a task that raised: 3, with exponential backoff from 0.1 s to 2 s.
# Also the deliveries a task that kills its worker gets where the broker counts them
# (session 5's max_attempts, our Streams consumer, RabbitMQ's quorum queues).
MAX_RETRIES = 3
MIN_BACKOFF_S = 0.1
MAX_BACKOFF_S = 2.0
# A task that runs longer than this is stopped by the engine that can stop it.
TIME_LIMIT_S = 60
# How long a dead worker keeps its tasks before someone else may take them.
# Short, so the kill -9 comparison finishes; production values are minutes.
DEAD_WORKER_TIMEOUT_S = 3.0


def profile() -> str:
    """The profile this process was started with (``recommended`` unless told otherwise)."""
    value = os.environ.get(ENV_PROFILE, "recommended")
    if value not in PROFILES:
        raise ValueError(f"{ENV_PROFILE}={value!r}: use one of {', '.join(PROFILES)}")
    return value


def broker() -> str:
    """Where the Dramatiq and Celery apps keep their messages (``redis`` unless told)."""
    value = os.environ.get(ENV_BROKER, "redis")
    if value not in BROKERS:
        raise ValueError(f"{ENV_BROKER}={value!r}: use one of {', '.join(BROKERS)}")
    return value


def queue() -> str:
    return os.environ.get(ENV_QUEUE, "s7-images")
