"""The single-server side of ``workers/cluster.py`` and the worker processes' ``handlers``.

The cluster side runs on a real cluster in ``tests/test_faults_cluster.py``; these need
only the suite's Redis (a single server), so they run everywhere.
"""

from __future__ import annotations

import multiprocessing

import pytest
import redis

from session5_recovery.workers import HandlerRegistry, RecoverySettings, RedisTaskQueue
from session5_recovery.workers.cluster import (
    cluster_note,
    is_cluster,
    redis_client,
    server_for,
)
from session5_recovery.workers.grace import ReapGrace
from session5_recovery.workers.process_entry import load_handlers, run_worker_process
from session5_recovery.workers.redis_task_queue import TEXT_REPLIES
from session5_recovery.workers.server_checks import check_eviction_policy

pytestmark = pytest.mark.redis


def test_a_single_server_url_gets_a_plain_client_and_is_its_own_server(redis_url):
    assert is_cluster(redis_url) is False
    client = redis_client(redis_url, **TEXT_REPLIES)
    try:
        assert type(client) is redis.Redis
        assert server_for(client, None) is client and server_for(client, "{q}:workers") is client
        assert cluster_note(client, "{q}:workers") is None, "nothing to say on one server"
        assert ReapGrace(client, 1.0, 0.1).hold_off() is False, "no key needed on one server"
        check_eviction_policy(client, allow_eviction=True)
    finally:
        client.close()


def test_nothing_answering_is_a_connection_error_not_a_guess():
    with pytest.raises(redis.ConnectionError):
        redis_client("redis://127.0.0.1:1/0")


@pytest.mark.multiprocess
def test_a_worker_process_runs_the_handlers_it_is_given_by_name(redis_url, queue_name):
    """Under spawn, the child imports the handlers by their name: nothing is pickled."""
    queue = RedisTaskQueue(url=redis_url, queue_name=queue_name)
    task_id = queue.add_task({"type": "shout", "text": "hi"})
    settings = RecoverySettings(heartbeat_interval=0.1, heartbeat_ttl=1.0).to_dict()
    child = multiprocessing.get_context("spawn").Process(
        target=run_worker_process, args=("w1", redis_url, queue_name),
        kwargs={"settings": settings, "handlers": f"{__name__}:shouting_handlers"})
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get_task_info(task_id).result == {"text": "HI"}
    queue.close()


@pytest.mark.parametrize(("name", "error"), [
    ("no_colon_here", ValueError),
    (f"{__name__}:not_a_registry", TypeError),
    ("no_such_module_anywhere:handlers", ModuleNotFoundError),
])
def test_a_bad_handlers_name_says_what_was_expected(name, error):
    with pytest.raises(error):
        load_handlers(name)


def shouting_handlers() -> HandlerRegistry:
    registry = HandlerRegistry()

    @registry.register("shout")
    def shout(data, context):
        return {"text": data["text"].upper()}

    return registry


def not_a_registry() -> dict:
    return {}
