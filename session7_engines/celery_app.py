"""Celery on Redis or RabbitMQ: the app and the task that ``celery -A ... worker`` imports.

Started by the harness as::

    celery -A session7_engines.celery_app worker -Q <queue> -c 2 -P prefork

with ``S7_REDIS_URL``, ``S7_NAMESPACE``, ``S7_QUEUE`` and ``S7_PROFILE`` in the
environment. Where Celery (and kombu, its messaging library) keeps each behaviour:

- ``task_acks_late`` (``app/defaults.py``, default False): without it the message
  is acknowledged *before* the task runs, so a worker killed mid-task loses it;
- ``task_reject_on_worker_lost`` (default off): with acks_late, a task whose pool
  child died is rejected and requeued (``worker/request.py``, ``on_failure``);
  with no count of redeliveries, a poison task then loops forever;
  ``task_retry_on_worker_lost`` (new in Celery 5.6) counts it against ``max_retries``;
- ``autoretry_for`` with ``retry_backoff`` and ``retry_jitter`` (``app/task.py``,
  ``app/autoretry.py``);
- the broker's ``visibility_timeout`` (``kombu/transport/redis.py``, 3600 s): an
  unacked message of a worker that vanished whole is restored after it;
- there is no dead-letter queue on Redis: a task past its retries is a FAILURE in
  the result backend and its message is gone. The workaround here: a
  ``task_failure`` signal handler pushes the task to our own ``dead`` list
  (it fires where the task raised; a pool child killed mid-task never gets there).

With ``S7_BROKER=rabbitmq`` the broker is RabbitMQ (kombu's ``amqp`` transport, on
py-amqp) and the queue a quorum queue (``rabbitmq.py``): a pool child killed
mid-task has its message rejected and requeued (``task_reject_on_worker_lost``),
the quorum queue counts that delivery, and past ``x-delivery-limit`` it goes to
the dead-letter exchange. ``task_retry_on_worker_lost`` stays off there: it would
send a fresh message each time, whose count starts again at zero. Celery notices
the quorum queue and turns off global QoS (``worker_detect_quorum_queues``); its
workers also declare Celery's shared native delayed-delivery exchanges and queues
(``celery_delayed_*``, one set per virtual host, for countdowns on quorum queues).
"""

from __future__ import annotations

import json
import os

from celery import Celery
from celery.signals import task_failure
from kombu import Exchange, Queue

from . import settings
from .rabbitmq import amqp_url, quorum_arguments
from .work import ENV_NAMESPACE, ENV_REDIS_URL, TransientError, ledger_from_env, perform

TASK_NAME = "s7.image_task"


def key_prefix(namespace: str) -> str:
    return f"{namespace}:celery:"


def dead_letter_names(namespace: str) -> tuple[str, str]:
    """The dead-letter exchange and the queue it routes to, on RabbitMQ."""
    return f"{namespace}.dlx", f"{namespace}.dead"


def rabbitmq_queue(namespace: str, queue: str) -> Queue:
    """The task queue as a quorum queue that dead-letters after ``MAX_RETRIES`` deliveries."""
    exchange, dead = dead_letter_names(namespace)
    return Queue(queue, Exchange(queue, type="direct"), routing_key=queue,
                 queue_arguments=quorum_arguments(settings.MAX_RETRIES, exchange, dead))


def make_app(url: str, namespace: str, profile: str, broker: str = "redis") -> Celery:
    """A Celery app whose every Redis key starts with ``{namespace}:celery:``; with
    ``broker="rabbitmq"`` its messages go through RabbitMQ (results stay in Redis)."""
    app = Celery("session7_engines")
    prefix = {"global_keyprefix": key_prefix(namespace)}
    broker_options: dict = dict(prefix) if broker == "redis" else {}
    config: dict = {
        "broker_url": url if broker == "redis" else amqp_url(), "result_backend": url,
        "result_backend_transport_options": prefix,
        "task_serializer": "json", "result_serializer": "json", "accept_content": ["json"],
        "worker_enable_remote_control": False, "worker_send_task_events": False,
        "worker_hijack_root_logger": False, "broker_connection_retry_on_startup": True,
    }
    if profile == "recommended":
        if broker == "redis":
            broker_options["visibility_timeout"] = int(settings.DEAD_WORKER_TIMEOUT_S * 10)
        config.update({
            "task_acks_late": True, "task_reject_on_worker_lost": True,
            "task_retry_on_worker_lost": True,
            # A worker that holds one message at a time hands back at most one.
            "worker_prefetch_multiplier": 1,
            "task_time_limit": settings.TIME_LIMIT_S,
        })
    if broker == "rabbitmq":
        queue = rabbitmq_queue(namespace, settings.queue())
        config.update({"task_queues": [queue], "task_default_queue": queue.name,
                       "task_retry_on_worker_lost": False})
    config["broker_transport_options"] = broker_options
    app.conf.update(config)
    return app


def task_options(profile: str) -> dict:
    if profile == "defaults":
        return {}
    return {"autoretry_for": (TransientError,), "retry_backoff": settings.MIN_BACKOFF_S,
            "retry_backoff_max": settings.MAX_BACKOFF_S, "retry_jitter": True,
            "max_retries": settings.MAX_RETRIES, "default_retry_delay": settings.MIN_BACKOFF_S}


def dead_key(namespace: str) -> str:
    return f"{namespace}:celery-dead"


_PROFILE = settings.profile()
_NAMESPACE = os.environ.get(ENV_NAMESPACE, "s7")
app = make_app(os.environ.get(ENV_REDIS_URL, "redis://127.0.0.1:6379/0"), _NAMESPACE, _PROFILE,
               settings.broker())


@app.task(name=TASK_NAME, **task_options(_PROFILE))
def image_task(task_id: str, data: dict) -> dict:
    return perform(task_id, data)


@task_failure.connect
def park_in_dead_list(sender=None, task_id=None, exception=None, args=None, **_):
    """Celery on Redis has no DLQ: keep what failed for good in a list of our own."""
    if sender is None or sender.name != TASK_NAME:
        return
    record = {"celery_id": task_id, "args": list(args or []), "error": repr(exception)}
    ledger_from_env().client.rpush(dead_key(_NAMESPACE), json.dumps(record))
