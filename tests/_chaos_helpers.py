"""Process and server helpers for the chaos, bad-input and security tests.

Everything a child process runs lives here, in an importable module, so it works
under ``spawn`` too (a child started with spawn imports its target by name; it
cannot run a function defined in a test body). The parent-side helpers make sure
every process and server a test starts is stopped again, even when the test fails.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis

from workshop.waiting import wait_until

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def mp_context() -> Any:
    """``fork`` on Linux (a replacement worker is up in milliseconds), else ``spawn``."""
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


class Processes:
    """Starts child processes and guarantees they are gone when the block ends.

    ``with Processes() as procs: p = procs.start(target, args)``; on exit every
    process still alive gets SIGCONT (a stopped one cannot die otherwise), then
    SIGKILL, and is joined.
    """

    def __init__(self, context: Any = None) -> None:
        self.context = context or mp_context()
        self.started: list[Any] = []

    def start(self, target: Callable[..., Any], args: tuple = (), kwargs: dict | None = None,
              name: str | None = None) -> Any:
        process = self.context.Process(target=target, args=args, kwargs=kwargs or {}, name=name,
                                       daemon=True)
        process.start()
        self.started.append(process)
        return process

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill_all()

    def kill_all(self) -> None:
        for process in self.started:
            if process.is_alive():
                with contextlib.suppress(ProcessLookupError, TypeError):
                    os.kill(process.pid, signal.SIGCONT)
                    os.kill(process.pid, signal.SIGKILL)
        for process in self.started:
            process.join(timeout=5)


def stop_gracefully(process: Any, sig: int = signal.SIGINT, timeout: float = 15) -> int | None:
    """Send ``sig`` and wait; SIGKILL if it is still alive after ``timeout``. Returns the exit code."""
    if process.is_alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)
        process.join(timeout)
    if process.is_alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.join(5)
    return process.exitcode


# --- a throwaway redis-server ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


class ThrowawayRedis:
    """A private ``redis-server`` on a free port and a temporary dir, for tests that stop it.

    ``appendonly=True`` makes it write every command to its append-only file
    (fsync every second by default, ``always`` here), so a restart finds the
    queue as it was. ``password`` turns on ``requirepass``. ``stop()`` is a clean
    SHUTDOWN (or SIGKILL with ``kill=True``); ``start()`` again reuses the port and
    the dir. Always use it as a context manager: the server and its dir go away.

    ``maxmemory`` (bytes) and ``policy`` (a ``maxmemory-policy`` such as
    ``noeviction`` or ``allkeys-lru``) make a server that fills up; ``config``
    adds any other ``--name value`` pairs. Without ``appendonly`` a restart comes
    back empty, like a server that lost its memory. ``pause(seconds)`` freezes it
    (SIGSTOP) and ``resume()`` wakes it. These are the server-side faults, and they
    only ever happen to this private server, never to the shared one.
    """

    def __init__(self, *, appendonly: bool = False, password: str | None = None,
                 tls: bool = False, maxmemory: int | None = None, policy: str | None = None,
                 config: dict[str, str] | None = None) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("no redis-server binary on PATH")
        self.binary = binary
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="chaos-redis-"))
        self.appendonly = appendonly
        self.password = password
        self.tls = tls
        self.maxmemory = maxmemory
        self.policy = policy
        self.config = dict(config or {})
        self.process: subprocess.Popen | None = None
        if tls:
            self._make_certificate()

    @property
    def url(self) -> str:
        """The URL clients use; the password is URL-encoded, as a URL requires."""
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        if self.tls:
            return f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={self.certificate}"
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def certificate(self) -> Path:
        return self.dir / "cert.pem"

    def _make_certificate(self) -> None:
        """A self-signed certificate for 127.0.0.1 (openssl; about 0.1 s)."""
        openssl = shutil.which("openssl")
        if openssl is None:
            raise RuntimeError("no openssl binary on PATH to make a test certificate")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-keyout", str(self.dir / "key.pem"), "-out", str(self.certificate),
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True, timeout=30)

    def start(self, timeout: float = 10) -> None:
        args = [self.binary, "--bind", "127.0.0.1", "--dir", str(self.dir), "--save", "",
                "--daemonize", "no"]
        if self.tls:
            args += ["--port", "0", "--tls-port", str(self.port),
                     "--tls-cert-file", str(self.certificate),
                     "--tls-key-file", str(self.dir / "key.pem"),
                     "--tls-ca-cert-file", str(self.certificate), "--tls-auth-clients", "no"]
        else:
            args += ["--port", str(self.port)]
        if self.appendonly:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        if self.password:
            args += ["--requirepass", self.password]
        if self.maxmemory is not None:
            args += ["--maxmemory", str(self.maxmemory)]
        if self.policy is not None:
            args += ["--maxmemory-policy", self.policy]
        for name, value in self.config.items():
            args += [f"--{name}", value]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            def answers() -> bool:
                if self.process is None or self.process.poll() is not None:
                    # (not the command line: it holds the password)
                    raise RuntimeError(f"redis-server exited at start (tls={self.tls}, "
                                       f"appendonly={self.appendonly})")
                try:
                    return bool(client.ping())
                except (redis.ConnectionError, redis.TimeoutError, OSError):
                    return False  # not listening yet, or still loading its AOF
            wait_until(answers, timeout, f"redis-server on port {self.port} to answer PING")
        finally:
            client.close()

    def stop(self, *, kill: bool = False, timeout: float = 10) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def restart_empty(self) -> None:
        """Kill the server and start it again on the same port: without AOF it comes back empty."""
        self.stop(kill=True)
        self.start()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): clients connect, send, and hear nothing back."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def client(self, **kwargs: Any) -> redis.Redis:
        """A text client for this server (the caller closes it)."""
        return redis.Redis.from_url(self.url, decode_responses=True, **kwargs)

    def __enter__(self) -> ThrowawayRedis:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot die otherwise
        self.stop(kill=True)
        shutil.rmtree(self.dir, ignore_errors=True)


# --- figures for the closing note -------------------------------------------------------


def record_figures(name: str, figures: dict[str, Any], tmp_dir: Path | None = None) -> Path:
    """Print ``figures`` (visible with ``-s`` / ``-rA``) and save them as JSON.

    They go to ``output/chaos/<name>.json`` (git-ignored), and also to ``tmp_dir``
    when given. Returns the path in ``output/chaos``.
    """
    from workshop.paths import OUTPUT_DIR

    text = json.dumps(figures, indent=2, sort_keys=True)
    print(f"\nCHAOS FIGURES {name}: {json.dumps(figures, sort_keys=True)}")
    folder = OUTPUT_DIR / "chaos"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(text + "\n", encoding="utf-8")
    if tmp_dir is not None:
        (Path(tmp_dir) / f"{name}.json").write_text(text + "\n", encoding="utf-8")
    return path


# --- a session 5 worker with one extra, deliberately poisonous task type -------------------


def run_s5_worker(worker_id: str, redis_url: str, queue_name: str, settings: dict[str, Any],
                  allowed_dirs: list[str] | None = None, ready: Any = None,
                  sleep_started: Any = None) -> None:
    """A forever-mode session 5 worker that also knows the task type ``"exit"``.

    ``{"type": "exit"}`` raises ``SystemExit`` inside the handler: the way a library
    that calls ``sys.exit()`` (or any error that escapes the worker's loop) ends a
    worker. Unlike ``"crash"`` (``os._exit``), the worker's ``finally`` blocks run.

    ``sleep_started`` (an Event) is set as each ``"sleep"`` task begins. Seeing the
    task in the worker's list does not say it is running: between the claim and the
    start the worker looks at its stop flag once more, and a SIGTERM that lands in
    that gap makes it hand the task back unstarted, as it should. A test of "SIGTERM
    while a task runs" waits for this instead.
    """
    from session5_recovery.workers import (
        RecoverySettings,
        RedisTaskQueue,
        RedisWorker,
        default_handlers,
    )

    handlers = default_handlers()

    @handlers.register("exit")
    def exit_now(data: dict[str, Any], context: Any) -> None:
        raise SystemExit(3)

    if sleep_started is not None:
        sleep = handlers.get("sleep")

        @handlers.register("sleep")
        def say_then_sleep(data: dict[str, Any], context: Any) -> Any:
            sleep_started.set()
            return sleep(data, context)

    queue = RedisTaskQueue(url=redis_url, queue_name=queue_name,
                           settings=RecoverySettings.from_dict(settings))
    try:
        worker = RedisWorker(worker_id, queue, handlers=handlers, allowed_dirs=allowed_dirs,
                             log=None)
        worker.start(burst=False, on_registered=ready.set if ready is not None else None)
    finally:
        queue.close()
