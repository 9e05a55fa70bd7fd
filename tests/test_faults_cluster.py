"""Session 5 on a real Redis Cluster, reached only through URLs, as a user would.

A private cluster of three masters (``ThrowawayCluster``, never the shared server):
two queues whose hash tags land on different nodes, real worker processes
(``WorkerFleet``) given the URL of a node that holds neither queue, one worker
killed with SIGKILL in the middle of a task, and a run ledger the handler writes.
Then ``stats`` through yet another node, session 6's way of opening the queue, and
the server checks: the eviction policy and the restart grace ask the node that
holds the queue, not the cluster's default node.

Under CI=true it never skips; elsewhere it skips only without redis-server and
redis-cli. About 15 s, most of it waiting out one heartbeat TTL.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Iterator

import pytest
import redis
from _chaos_helpers import IN_CI
from _cluster_helpers import HOW_TO_GET_CLUSTER_TOOLS, ThrowawayCluster, cluster_tools

from session5_recovery.tools.cli import main
from session5_recovery.tools.fleet import WorkerFleet
from session5_recovery.workers import QueueKeys, RecoverySettings, RedisTaskQueue, TaskStatus
from session5_recovery.workers.cluster import async_redis_client, redis_client, server_for
from session5_recovery.workers.epoch import QueueEpoch
from session5_recovery.workers.grace import ReapGrace
from session5_recovery.workers.server_checks import EvictingServerError, check_eviction_policy
from workshop.waiting import wait_until

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.multiprocess,
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

# Live workers get a 3 s TTL: a busy machine's stalled heartbeat thread must not get a
# live worker reaped (that would be a second fault and a second run).
SETTINGS = RecoverySettings(heartbeat_interval=0.3, heartbeat_ttl=3.0, reap_interval=0.2,
                            claim_timeout=0.2)
DEADLINE = 60  # seconds for any one wait; the test needs a fraction of that
LONG, SHORT = 0.8, 0.1  # seconds per task on the queue with the kill / on the other one


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    if cluster_tools() is None:
        if IN_CI:
            pytest.fail(f"CI=true: the Redis Cluster tests must run; this machine "
                        f"{HOW_TO_GET_CLUSTER_TOOLS}")
        pytest.skip(HOW_TO_GET_CLUSTER_TOOLS)
    with ThrowawayCluster() as started:
        yield started


def node_port(client: redis.RedisCluster, queue_name: str) -> int:
    return client.get_node_from_key(QueueKeys(queue_name).workers).port


def queues_on_two_nodes(client: redis.RedisCluster) -> tuple[str, str]:
    """Two fresh queue names whose slots belong to different nodes (checked, not hoped)."""
    run = uuid.uuid4().hex[:8]
    first = f"cl-{run}-0"
    second = next(name for name in (f"cl-{run}-{i}" for i in range(1, 100))
                  if node_port(client, name) != node_port(client, first))
    return first, second


def other_node_url(cluster: ThrowawayCluster, *busy_ports: int) -> str:
    """The URL of a node that holds none of ``busy_ports``' queues."""
    return cluster.url_of_port(next(p for p in cluster.ports if p not in busy_ports))


def test_workers_on_two_shards_finish_every_task_once_though_one_is_killed(cluster, capsys):
    client = redis_client(cluster.url(0), decode_responses=True)  # a cluster, found from a URL
    assert isinstance(client, redis.RedisCluster)
    slow, fast = queues_on_two_nodes(client)
    ports = node_port(client, slow), node_port(client, fast)
    assert ports[0] != ports[1], "the two queues live on two shards"
    elsewhere = other_node_url(cluster, *ports)  # a node that holds neither queue
    queues = {name: RedisTaskQueue(client=client, queue_name=name, settings=SETTINGS)
              for name in (slow, fast)}
    ledgers = {name: f"{{{name}}}:test-ledger" for name in queues}  # task id -> runs
    ids = {name: queues[name].add_tasks(
        [{"type": "sleep", "seconds": seconds, "ledger": ledgers[name], "ledger_url": elsewhere}
         for _ in range(count)])
        for name, seconds, count in ((slow, LONG, 4), (fast, SHORT, 6))}

    method = "fork" if sys.platform.startswith("linux") else "spawn"
    fleets = [WorkerFleet(elsewhere, name, settings=SETTINGS, start_method=method,
                          prefix=f"w-{name[-1]}", handlers="_cluster_helpers:ledger_handlers")
              for name in (slow, fast)]
    try:
        fleets[0].start(2)
        fleets[1].start(1)

        def running() -> tuple[str, str] | None:
            """(worker, task) once a worker of the slow queue has started a task."""
            for worker_id in fleets[0].alive():
                for task_id in client.lrange(queues[slow].keys.processing(worker_id), 0, -1):
                    if client.hget(ledgers[slow], task_id):
                        return worker_id, task_id
            return None

        victim, task_in_flight = wait_until(running, DEADLINE, "a task running on the slow queue")
        fleets[0].kill(victim)  # SIGKILL in the middle of a LONG task

        def drained(name: str) -> bool:
            return queues[name].get_stats()["completed"] == len(ids[name])

        wait_until(lambda: drained(slow) and drained(fast), DEADLINE, "every task completed")
    finally:
        for fleet in fleets:
            fleet.stop()

    for name in queues:
        runs = {task_id: int(n) for task_id, n in client.hgetall(ledgers[name]).items()}
        expected = {task_id: 2 if task_id == task_in_flight else 1 for task_id in ids[name]}
        assert runs == expected, f"{name}: each task ran once, the killed one once more"
        assert all(queues[name].get_task_info(i).status is TaskStatus.COMPLETED for i in ids[name])
        assert queues[name].conservation().holds
    assert queues[slow].get_task_info(task_in_flight).worker_id != victim, "finished by another"

    capsys.readouterr()
    for name in queues:  # stats through a node that holds neither queue: no MovedError
        assert main(["stats", "--json", "--redis-url", elsewhere, "--queue", name]) == 0
        captured = capsys.readouterr()
        stats = json.loads(captured.out)
        assert stats["completed"] == len(ids[name]) and stats["conservation_holds"] is True
        assert f"on node 127.0.0.1:{node_port(client, name)}" in captured.err
    client.close()


def test_session6_opens_its_queue_and_its_event_stream_client_through_any_node(cluster):
    from session6_api.config import ApiConfig
    from session6_api.services import open_queue

    client = redis_client(cluster.url(0), decode_responses=True)
    name, _ = queues_on_two_nodes(client)
    url = other_node_url(cluster, node_port(client, name))
    queue = open_queue(ApiConfig(redis_url=url, queue_name=name))
    task_id = queue.add_task({"type": "noop"})
    assert queue.get_task_info(task_id).status.value == "pending"

    async def events_length() -> int:
        aclient = async_redis_client(url, decode_responses=True)
        try:
            return await aclient.xlen(queue.keys.events)
        finally:
            await aclient.aclose()

    assert asyncio.run(events_length()) >= 1, "the enqueued event, read through the cluster"
    queue.client.close()
    client.close()


def test_the_eviction_check_asks_the_node_that_holds_the_queue(cluster, capsys):
    client = redis_client(cluster.url(0), decode_responses=True)
    evicting, safe = queues_on_two_nodes(client)
    node = server_for(client, QueueKeys(evicting).workers)
    node.config_set("maxmemory-policy", "allkeys-lru")  # a private node: ours to change
    try:
        with pytest.raises(EvictingServerError, match="allkeys-lru"):
            check_eviction_policy(client, key=QueueKeys(evicting).workers)
        assert check_eviction_policy(client, key=QueueKeys(safe).workers) is None
        with pytest.raises(ValueError, match="needs a key"):
            check_eviction_policy(client)  # never the default node by accident
        url = other_node_url(cluster, node_port(client, evicting), node_port(client, safe))
        task = ["enqueue", "--task", '{"type": "noop"}', "--redis-url", url]
        assert main([*task, "--queue", evicting]) == 1
        assert "refusing to start" in capsys.readouterr().err
        assert main([*task, "--queue", safe]) == 0
    finally:
        node.config_set("maxmemory-policy", "noeviction")
        client.close()


def test_a_restart_of_the_queues_own_node_is_noticed(cluster, fake_clock):
    client = redis_client(cluster.url(0), decode_responses=True)
    restarted, untouched = queues_on_two_nodes(client)
    grace = {name: ReapGrace(client, 1.0, 0.1, monotonic=fake_clock, key=QueueKeys(name).workers)
             for name in (restarted, untouched)}
    queue = RedisTaskQueue(client=client, queue_name=restarted)
    epoch = QueueEpoch(queue, "test")
    assert epoch.check() == "new"
    assert not any(g.hold_off() for g in grace.values()), "no restart yet: reap"
    with pytest.raises(ValueError, match="needs a key"):
        ReapGrace(client, 1.0, 0.1)

    cluster.restart_node(node_port(client, restarted))  # comes back empty, new run_id

    assert grace[restarted].hold_off(), "the queue's own node restarted: hold off"
    assert "restarted" in (grace[restarted].reason or "")
    assert not grace[untouched].hold_off(), "another node's queue reaps as usual"
    assert epoch.check() == "lost", "the node came back empty: the queue's data is gone"
    client.close()


def test_a_cluster_url_naming_another_database_is_refused_in_one_line(cluster):
    with pytest.raises(ValueError, match="a Redis Cluster has only database 0"):
        redis_client(cluster.url(1).replace("/0", "/1"))
