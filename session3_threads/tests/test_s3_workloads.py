"""The three workloads and the code that times them (no timing assertions: values only)."""

from __future__ import annotations

import time

import pytest
from PIL import Image

from session3_threads import workloads
from session3_threads.workloads import (
    cpu_task,
    io_task,
    make_pillow_inputs,
    measure,
    pillow_task,
    run_once,
    run_processes,
    run_sequential,
    run_threads,
    task_args,
)


class TestWorkloads:
    @pytest.mark.parametrize(("n", "primes"), [(0, 0), (2, 0), (3, 1), (10, 4), (100, 25),
                                               (1000, 168)])
    def test_cpu_task_counts_primes_below_n(self, n, primes):
        assert cpu_task(n) == primes

    def test_cpu_task_rejects_negative_n(self):
        with pytest.raises(ValueError, match="n must be 0 or more"):
            cpu_task(-1)

    def test_io_task_returns_what_it_waited(self):
        assert io_task(0.0) == 0.0
        assert io_task(0.001) == 0.001
        with pytest.raises(ValueError, match="seconds"):
            io_task(-1)

    def test_pillow_task_returns_the_size_and_writes_only_when_asked(self, tmp_path):
        [path] = make_pillow_inputs(1, (64, 48), folder=tmp_path)
        assert pillow_task(path) == (64, 48)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bench_64x48_00.jpg"]
        out = tmp_path / "out.png"
        assert pillow_task(path, str(out)) == (64, 48)
        with Image.open(out) as result:
            assert result.mode == "L"  # the default pipeline ends with grayscale

    def test_make_pillow_inputs_reuses_files(self, tmp_path):
        first = make_pillow_inputs(3, (32, 24), folder=tmp_path)
        mtimes = [p.stat().st_mtime_ns for p in tmp_path.iterdir()]
        assert make_pillow_inputs(3, (32, 24), folder=tmp_path) == first
        assert [p.stat().st_mtime_ns for p in tmp_path.iterdir()] == mtimes


class TestRunners:
    def test_runners_run_every_task_and_time_all_of_it(self):
        # Each task sleeps PAUSE: one after the other they take at least 4 x PAUSE, on
        # two threads at least 2 x PAUSE. A machine under load can only make it longer.
        pause, args = 0.02, list(range(4))
        for runner, at_least in ((run_sequential, 4 * pause),
                                 (lambda fn, a: run_threads(fn, a, 2), 2 * pause)):
            done: list[int] = []
            elapsed = runner(lambda n, done=done: (time.sleep(pause), done.append(n)), args)
            assert sorted(done) == args, f"{runner}: ran {done}, expected every task once"
            assert isinstance(elapsed, float) and elapsed >= at_least * 0.99, (
                f"{runner} returned {elapsed:.4f} s for tasks that sleep {at_least:.2f} s "
                f"at the least: the timing does not cover the work")

    def test_runners_propagate_errors(self):
        with pytest.raises(ValueError, match="n must be 0 or more"):
            run_threads(cpu_task, [10, -1], 2)

    def test_workers_must_be_positive(self):
        with pytest.raises(ValueError, match="workers=0"):
            run_threads(cpu_task, [10], 0)

    @pytest.mark.multiprocess
    def test_run_processes_under_each_start_method(self, mp_context):
        # spawn re-imports session3_threads.workloads in the child: this proves the
        # workloads are importable top-level functions, not __main__ leftovers.
        elapsed = run_processes(cpu_task, [100, 200], 2, mp_context.get_start_method())
        assert elapsed > 0

    def test_task_args_per_kind(self, monkeypatch, tmp_path):
        monkeypatch.setattr(workloads, "workload_dir", lambda: tmp_path)
        assert task_args("cpu", 3, quick=True) == [workloads.QUICK_CPU_N] * 3
        assert task_args("io", 2, quick=False) == [workloads.IO_SECONDS] * 2
        paths = task_args("pillow", 2, quick=True)
        assert len(paths) == 2 and all(path.startswith(str(tmp_path)) for path in paths)
        with pytest.raises(ValueError, match="unknown workload kind 'gpu'"):
            task_args("gpu")

    def test_quick_mode_from_the_environment(self, monkeypatch):
        monkeypatch.setenv("WORKSHOP_QUICK", "1")
        assert workloads.is_quick()
        assert task_args("cpu", 1) == [workloads.QUICK_CPU_N]
        monkeypatch.setenv("WORKSHOP_QUICK", "0")
        assert not workloads.is_quick()

    def test_run_once_and_measure(self, monkeypatch, tmp_path):
        monkeypatch.setattr(workloads, "workload_dir", lambda: tmp_path)
        assert run_once("io", "threads", 2, [0.0, 0.0]) >= 0
        assert measure("cpu", 2, repeats=2, mode="threads", tasks=2, quick=True) > 0
        assert measure("pillow", mode="sequential", repeats=1, tasks=1, quick=True) > 0
        with pytest.raises(ValueError, match="unknown mode 'fibers'"):
            run_once("cpu", "fibers", 2, [1])
        with pytest.raises(ValueError, match="repeats"):
            measure("cpu", repeats=0)
