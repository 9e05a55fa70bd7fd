"""``serve`` and its workers: killed with SIGKILL, the same command starts again; a
worker killed with SIGKILL is replaced. Live servers (child processes), Linux /proc."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from session6_api.testing.livetest import LiveServer
from workshop.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.multiprocess, pytest.mark.chaos, pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")]


def worker_pids(parent: int) -> list[int]:
    """The worker processes ``parent`` spawned (not multiprocessing's resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[1]) == parent and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has died


def live_workers(server: LiveServer) -> list[str]:
    try:
        answer = httpx.get(server.url + "/workers", timeout=5)
    except httpx.HTTPError:
        return []
    return sorted(w["worker_id"] for w in answer.json() if w["alive"])


@pytest.fixture
def server_args(tmp_path, redis_url, queue_name):
    return {"redis_url": redis_url, "queue_name": queue_name, "data_dir": tmp_path / "data",
            "database_url": f"sqlite:///{tmp_path / 'tasks.db'}", "workers": 2}


def test_serve_killed_with_sigkill_starts_again_with_the_same_command(server_args):
    first = LiveServer(**server_args).start()
    try:
        pids = worker_pids(first.process.pid)
        assert len(pids) == 2, pids
        os.kill(first.process.pid, signal.SIGKILL)  # serve only, not its process group
        first.process.wait(30)
        wait_until(lambda: not any(alive(pid) for pid in pids), 30,
                   "the workers to die with their parent")
    finally:
        first.stop()
    again = LiveServer(**server_args)
    again.port, again.url = first.port, first.url  # the very same command
    again.args = first.args
    with again:
        wait_until(lambda: live_workers(again) == ["worker-1", "worker-2"], 30,
                   "the new serve's two workers")


def test_a_worker_killed_with_sigkill_is_replaced(server_args):
    with LiveServer(**server_args) as server:
        victim = worker_pids(server.process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        server.wait_for(lambda: "worker-3" in live_workers(server), 60,
                        "a replacement worker")
        assert len(worker_pids(server.process.pid)) == 2
        assert "died (killed by SIGKILL); started worker-3" in server.log()
