"""A live ``python -m session6_api serve`` in a child process, for tests, the bench and demos.

In-process test clients cannot test a stream that never ends (``GET /events``)
or a worker killed with SIGKILL; a real server on a free port can.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """``with LiveServer(...) as server: httpx.get(server.url + "/health")``."""

    def __init__(self, *, redis_url: str, queue_name: str, database_url: str, data_dir: Path,
                 table_prefix: str = "", workers: int = 2, extra_args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [sys.executable, "-m", "session6_api", "serve", "--port", str(self.port),
                     "--workers", str(workers), "--queue", queue_name, "--redis-url", redis_url,
                     "--database-url", database_url, *extra_args]
        self.env = {**os.environ, "SESSION6_DATA_DIR": str(data_dir),
                    "SESSION6_TABLE_PREFIX": table_prefix, **(env or {})}
        self.log_path = Path(data_dir) / "server.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> LiveServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(self.args, env=self.env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.wait_for(self._ready, timeout, "the server to answer /ready")
        except BaseException:
            self.stop()
            raise
        return self

    def wait_for(self, condition: Callable[[], object], timeout: float, what: str) -> None:
        """Poll ``condition`` every 0.2 s until it is truthy; fail at once if the server died.

        A generic wait would sit out its whole timeout after the server crashed; this
        one reports the crash and the end of the server's log instead.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode} while "
                                   f"waiting for {what}:\n{self.log()[-3000:]}")
            if condition():
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"gave up after {timeout:g} s waiting for {what}")
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            return httpx.get(self.url + "/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self, timeout: float = 30.0) -> int | None:
        """Ctrl-C (SIGINT to the whole process group, as a terminal does); then wait."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()
        return self.process.returncode

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
