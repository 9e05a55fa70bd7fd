"""Private Redis and PostgreSQL servers for the outage tests: they stop, freeze and
restart these, never the shared ones.

``ThrowawayRedis`` is the chaos suite's (tests/_chaos_helpers.py). ``ThrowawayPostgres``
runs Debian's (or any) PostgreSQL binaries: ``initdb`` into a temporary folder and
``pg_ctl`` on a free port, as the ``postgres`` user when the tests run as root
(``initdb`` refuses root).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(found: bool, what: str) -> None:
    """Skip without ``what`` on a learner's machine; fail under CI=true (it must run there)."""
    import pytest

    if not found:
        if IN_CI:
            pytest.fail(f"CI=true but {what} is not installed: the fault tests must run")
        pytest.skip(f"{what} is not installed")


def _chaos_helpers():
    spec = importlib.util.spec_from_file_location("_chaos_helpers",
                                                  ROOT / "tests" / "_chaos_helpers.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules.get("_chaos_helpers")
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules["_chaos_helpers"] = module
        spec.loader.exec_module(module)
    return module


ThrowawayRedis = _chaos_helpers().ThrowawayRedis
free_port = _chaos_helpers().free_port
redis_server_binary = _chaos_helpers().redis_server_binary


def postgres_bin_dir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: PATH, else Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)
    return versions[-1].parent if versions else None


class ThrowawayPostgres:
    """A private PostgreSQL on a free port; ``stop()`` crashes it, ``start()`` brings it back."""

    def __init__(self) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl) on this machine")
        self.bin_dir = bin_dir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="s6-postgres-"))
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run(str(self.bin_dir / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres",
                  "--auth=trust", "--no-sync")

    def start(self) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.dir / "data"), "-w", "-t", "30",
                  "-l", str(self.dir / "log"), "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off",
                  "start")

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: the server dies without a clean shutdown (a crash, for the clients)."""
        subprocess.run([*self.as_user, str(self.bin_dir / "pg_ctl"), "-D",
                        str(self.dir / "data"), "-m", mode, "-w", "stop"],
                       capture_output=True, timeout=60)

    def __enter__(self) -> ThrowawayPostgres:
        self.init()
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
