"""Slow clients cannot take the service down: 1,100 connections that never finish their
request head, against a live server limited to 1,024 open files.

Before: the server accepted until it ran out of descriptors, kept every slow
connection for ever, answered nobody (not even /health) and logged "Too many
open files" for every refused accept. Now a request head must arrive within
``SESSION6_HEADER_TIMEOUT`` seconds (1 s here), and a repeated error is one
line per interval.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time

import httpx
import pytest

from session6_api.testing.livetest import LiveServer

pytestmark = [pytest.mark.redis, pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux") or not shutil.which("prlimit"),
                                 reason="needs Linux's prlimit to give the server 1,024 files")]
SLOW_CLIENTS = 1100
OPEN_FILES = 1024


def slow_connection(port: int) -> socket.socket | None:
    """A connection that sends half a request head and then nothing."""
    sock = socket.socket()
    sock.settimeout(5)
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    except OSError:  # refused or reset: the server is full, which is the point
        sock.close()
        return None
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.timeout(300)
def test_slow_clients_do_not_lock_out_health(tmp_path, redis_url, queue_name):
    server = LiveServer(redis_url=redis_url, queue_name=queue_name, workers=0,
                        database_url=f"sqlite:///{tmp_path / 'slow.db'}",
                        data_dir=tmp_path / "data", env={"SESSION6_HEADER_TIMEOUT": "1"})
    server.args = ["prlimit", f"--nofile={OPEN_FILES}:{OPEN_FILES}", *server.args]
    with server:
        sockets = [s for s in (slow_connection(server.port) for _ in range(SLOW_CLIENTS)) if s]
        try:
            started = time.monotonic()
            server.wait_for(lambda: _health(server), 60, "/health to answer past slow clients")
            answered_after = time.monotonic() - started
            closed = sum(closed_by_server(s) for s in sockets[:20])
        finally:
            for sock in sockets:
                sock.close()
        log = server.log()
    print(f"{len(sockets)} slow connections; /health answered after {answered_after:.1f} s; "
          f"{closed}/20 sampled slow connections closed by the server; "
          f"log: {len(log.splitlines())} lines")
    assert closed == 20  # the server hangs up on a head that does not come
    assert log.count("out of system resource") <= 10 and log.count("Too many open files") <= 10
    assert len(log.splitlines()) < 200, log[-3000:]


def _health(server: LiveServer) -> bool:
    try:
        return httpx.get(server.url + "/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_body_that_stalls_is_408_and_health_still_answers(tmp_path, redis_url, queue_name):
    server = LiveServer(redis_url=redis_url, queue_name=queue_name, workers=0,
                        database_url=f"sqlite:///{tmp_path / 'slow.db'}",
                        data_dir=tmp_path / "data", env={"SESSION6_BODY_TIMEOUT": "1"})
    with server, socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                     b"\r\nContent-Length: 100\r\n\r\n{\"image\": ")  # and then nothing
        assert _health(server)
        answer = b""
        while chunk := sock.recv(4096):  # the head and the body may come in separate reads
            answer += chunk
            if b"stalled" in answer:
                break
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"stalled" in answer, answer
