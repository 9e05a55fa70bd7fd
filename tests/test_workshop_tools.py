"""The learner tooling: doctor, check, sample images, the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from workshop import doctor, redis_connection
from workshop.images import make_sample_images, sample_photo
from workshop.paths import REPO_ROOT, session_dirs

DEAD_URL = "redis://127.0.0.1:1/0"


def run_workshop(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workshop", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.redis
def test_doctor_with_redis_running(redis_url, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert doctor.run_doctor() == 0
    out = capsys.readouterr().out
    assert "[OK  ] Redis" in out and "answers" in out and "All set." in out


def test_doctor_with_redis_stopped_and_no_embedded_server(monkeypatch, capsys):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(doctor, "LOCAL_URL", DEAD_URL)
    monkeypatch.setattr(doctor, "start_embedded", lambda: None)
    assert doctor.run_doctor() == 1
    out = capsys.readouterr().out
    assert "[FAIL] Redis" in out and f"no server at {DEAD_URL}" in out
    assert "docker run" in out, "the fix lists the ways to get a Redis"
    assert "1 problem(s) to fix" in out


def test_doctor_with_redis_stopped_falls_back_to_embedded(monkeypatch, capsys):
    if redis_connection.start_embedded() is None:
        pytest.skip("no embedded server on this platform")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(doctor, "LOCAL_URL", DEAD_URL)
    assert doctor.run_doctor() == 0
    out = capsys.readouterr().out
    assert "[WARN] Redis" in out and "embedded" in out and "make redis" in out


def test_doctor_reports_a_missing_package(monkeypatch, capsys):
    monkeypatch.setitem(doctor.REQUIRED_PACKAGES, "no_such_module_xyz", "no-such-package")
    check = doctor.check_packages()
    assert check.status == "FAIL" and "no-such-package" in check.detail
    assert "requirements.txt" in check.fix


def test_sample_images_are_real_and_sized(tmp_path):
    assert sample_photo().exists()
    paths = make_sample_images(tmp_path, 5)
    assert len(paths) == 5 and all(p.exists() for p in paths)
    sizes = [Image.open(p).size for p in paths[1:]]
    assert len(set(sizes)) == 4, f"generated images should come in several sizes, got {sizes}"
    assert make_sample_images(tmp_path, 5) == paths, "a second call reuses the files"


def test_check_shows_progress_and_the_next_hint():
    sessions = [s for s in session_dirs() if any((s / "exercises").glob("test_ex*.py"))]
    if not sessions:
        pytest.skip("no session with exercises yet")
    number = sessions[0].name.removeprefix("session").split("_")[0]
    result = run_workshop("check", number)
    # The learner's files are untouched stubs in a fresh clone: not done, with a hint.
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Progress: 0/" in result.stdout
    assert "Next:" in result.stdout and "Exercise" in result.stdout


def test_command_line_help_lists_every_command():
    result = run_workshop("--help")
    assert result.returncode == 0
    for command in ("demo", "doctor", "check", "redis", "bench", "notebooks"):
        assert command in result.stdout


def test_notebook_amdahl_speaks_the_exercises_language():
    # Same name and argument order as session 3's exercise 3: serial fraction first.
    from workshop import nbhelpers

    assert nbhelpers.amdahl_speedup(0.1, 4) == pytest.approx(1 / (0.1 + 0.9 / 4))
    assert nbhelpers.amdahl_speedup(0.1, 8, cores=4) == nbhelpers.amdahl_speedup(0.1, 4)
    assert nbhelpers.serial_fraction(nbhelpers.amdahl_speedup(0.25, 4), 4) == pytest.approx(0.25)
    assert nbhelpers.serial_fraction(5.0, 4) == 0.0  # a speedup above n is clipped
