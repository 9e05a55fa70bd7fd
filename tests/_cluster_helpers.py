"""A throwaway Redis Cluster of three masters, and a worker whose handler keeps a run ledger.

``ThrowawayCluster`` starts its own ``redis-server --cluster-enabled yes`` nodes in a
temporary dir, joins them with ``redis-cli --cluster create`` and waits for
``cluster_state:ok``; it never touches a shared server. A node listens on its port
and on port + 10000 (the cluster bus, node to node), so both must be free.

``ledger_handlers`` is what ``WorkerFleet(handlers=...)`` loads in each worker
process: the default handlers, with ``sleep`` counting every run it starts in a hash
(``HINCRBY ledger task_id 1``) before it sleeps. A run counts when it starts, so a
worker killed in the middle of a task leaves its run in the ledger.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import redis

from session5_recovery.workers import HandlerRegistry, TaskContext, default_handlers
from session5_recovery.workers.cluster import redis_client
from workshop.waiting import wait_until

HOW_TO_GET_CLUSTER_TOOLS = ("needs redis-server and redis-cli (Debian/Ubuntu: sudo apt install "
                            "redis-server, which brings redis-tools; macOS: brew install redis)")
PORTS = range(17700, 17800)  # first choice; a node's bus is on port + 10000
BUS_OFFSET = 10_000


def cluster_tools() -> tuple[str, str] | None:
    """(redis-server, redis-cli) if both are installed, else None."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    return (server, cli) if server and cli else None


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_node_ports(count: int) -> list[int]:
    """``count`` ports whose bus ports (port + 10000) are free too."""
    found = [p for p in PORTS if _port_free(p) and _port_free(p + BUS_OFFSET)][:count]
    if len(found) < count:
        raise RuntimeError(f"fewer than {count} free node ports in {PORTS} (with their buses)")
    return found


class ThrowawayCluster:
    """``with ThrowawayCluster() as cluster: cluster.url(0)``: three masters, no replicas."""

    def __init__(self, masters: int = 3) -> None:
        tools = cluster_tools()
        if tools is None:
            raise RuntimeError(HOW_TO_GET_CLUSTER_TOOLS)
        self.server_binary, self.cli_binary = tools
        self.ports = free_node_ports(masters)
        self.dir = Path(tempfile.mkdtemp(prefix="cluster-redis-"))
        self.processes: dict[int, subprocess.Popen] = {}

    def url(self, index: int) -> str:
        return f"redis://127.0.0.1:{self.ports[index]}/0"

    def url_of_port(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}/0"

    def start(self, timeout: float = 30) -> None:
        for port in self.ports:
            self._start_node(port)
        for port in self.ports:
            wait_until(lambda p=port: self._answers(p), timeout, f"node {port} to answer PING")
        subprocess.run([self.cli_binary, "--cluster", "create",
                        *(f"127.0.0.1:{p}" for p in self.ports),
                        "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, capture_output=True, timeout=timeout)
        self.wait_ok(timeout)

    def _start_node(self, port: int) -> None:
        self.processes[port] = subprocess.Popen(
            [self.server_binary, "--port", str(port), "--bind", "127.0.0.1",
             "--cluster-enabled", "yes", "--cluster-config-file", str(self.dir / f"nodes-{port}.conf"),
             "--dir", str(self.dir), "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _ask(self, port: int, ask: Any) -> Any:
        """``ask(client)`` on one node; None if it does not answer (yet)."""
        client = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return ask(client)
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, OSError):
            return None
        finally:
            client.close()

    def _answers(self, port: int) -> bool:
        process = self.processes[port]
        if process.poll() is not None:
            raise RuntimeError(f"redis-server on port {port} exited at start "
                               f"(code {process.returncode})")
        return bool(self._ask(port, lambda client: client.ping()))

    def _state_ok(self, port: int) -> bool:
        info = self._ask(port, lambda client: client.cluster("info"))
        return bool(info) and info.get("cluster_state") == "ok"

    def wait_ok(self, timeout: float = 30) -> None:
        """Until every node says ``cluster_state:ok`` (all slots served)."""
        for port in self.ports:
            wait_until(lambda p=port: self._state_ok(p), timeout, f"node {port}: cluster_state:ok")

    def restart_node(self, port: int, timeout: float = 30) -> None:
        """Stop one node and start it again on the same port and config file: it keeps its
        slots (nodes.conf) and comes back empty (no persistence), a new run_id."""
        process = self.processes[port]
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        self._start_node(port)
        wait_until(lambda: self._answers(port), timeout, f"node {port} to answer again")
        self.wait_ok(timeout)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ThrowawayCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- the worker side: runs in each worker process --------------------------------------

_ledger_clients: dict[str, Any] = {}  # one client per URL in each process


def ledger_handlers() -> HandlerRegistry:
    """The default handlers; ``sleep`` also counts each run it starts in ``data["ledger"]``
    (a hash on ``data["ledger_url"]``: task id -> runs)."""
    registry = default_handlers()
    sleep = registry.get("sleep")

    @registry.register("sleep")
    def counted_sleep(data: dict[str, Any], context: TaskContext) -> Any:
        url = data["ledger_url"]
        if url not in _ledger_clients:
            _ledger_clients[url] = redis_client(url)
        _ledger_clients[url].hincrby(data["ledger"], context.task_id, 1)
        return sleep(data, context)

    return registry

