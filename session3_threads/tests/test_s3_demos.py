"""The demos' machinery: race counters, the GIL comparison (quick), the thread-pool demo.

No timing assertions: the numbers depend on the machine. These tests check that
the measurements are made, combined and explained correctly.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import time

import pytest

from session3_threads.counters import LockedCounter, UnsafeCounter, hammer
from session3_threads.demos import demo_gil, demo_race_condition, demo_thread_pool

# The process runs go through forkserver (spawn where there is none): a plain fork from
# pytest, which has just joined other threads, is what Python 3.12+ warns about
# ("multi-threaded, use of fork() may lead to deadlocks"). These tests check the
# machinery, not fork's speed; the demo itself still uses the platform default.
SAFE_START = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def forced_switch():
    """A pause where two threads meet between read and write (or give up: the lock case)."""
    barrier = threading.Barrier(2, timeout=0.3)

    def pause():
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass

    return pause


class TestRaceCounters:
    def test_unsafe_counter_loses_an_update_when_threads_interleave(self):
        counter = UnsafeCounter(pause=forced_switch())
        lost = hammer(counter, threads=2, increments=1)
        assert (counter.value, lost) == (1, 1)

    def test_locked_counter_is_exact_under_the_same_interleaving(self):
        counter = LockedCounter(pause=forced_switch())
        assert hammer(counter, threads=2, increments=1) == 0
        assert counter.value == 2

    def test_locked_counter_is_exact_with_many_threads(self):
        counter = LockedCounter()  # the default pause, time.sleep(0), invites switches
        assert hammer(counter, threads=8, increments=500) == 0
        assert counter.value == 4000

    def test_unsafe_counter_never_gains(self):
        # Count the increments independently of the counter, through its pause: then
        # hammer's "lost" is checked against what really ran, not against itself.
        ran = itertools.count()
        counter = UnsafeCounter(pause=lambda: (next(ran), time.sleep(0)))
        lost = hammer(counter, threads=4, increments=200)
        increments = next(ran)
        assert increments == 800, f"hammer ran {increments} increments, expected 4 x 200"
        assert 0 < counter.value <= 800, f"a counter of 800 increments ended at {counter.value}"
        assert lost == increments - counter.value, (lost, increments, counter.value)

    def test_race_demo_prints_both_counts(self, capsys):
        demo_race_condition.main(["--threads", "2", "--increments", "50"])
        out = capsys.readouterr().out
        assert "without a lock" in out and "with a Lock" in out
        assert "lost updates = 0" in out


@pytest.mark.slow  # the GIL demo, run for real: threads and processes on each kind of work
class TestGilDemo:
    @pytest.fixture(scope="class")
    @classmethod
    def results(cls, tmp_path_factory):
        from session3_threads import workloads

        folder = tmp_path_factory.mktemp("gil")
        with pytest.MonkeyPatch.context() as patch:  # one measured run for the whole class
            patch.setattr(workloads, "workload_dir", lambda: folder)
            return demo_gil.run_comparison(tasks=2, repeats=2, quick=True, start_method=SAFE_START)

    def test_every_kind_and_mode_is_measured(self, results):
        assert list(results) == ["cpu", "pillow", "io"]
        for rows in results.values():
            assert [(row.mode, row.workers) for row in rows] == list(demo_gil.PLAN)
            for row in rows:
                assert len(row.times) == 2 and all(t > 0 for t in row.times)
                assert row.sequential == rows[0].median
            assert rows[0].speedup == pytest.approx(1.0)

    def test_tables_have_a_row_per_mode_and_an_explanation(self, results):
        tables = demo_gil.build_tables(results, quick=True)
        assert len(tables) == 3
        sentences = [sentence for _, sentence in tables]
        assert "holds the GIL" in sentences[0]
        assert "Pillow releases the GIL" in sentences[1]
        assert "waits overlap" in sentences[2]
        for table, _ in tables:
            assert table.row_count == len(demo_gil.PLAN)

    def test_efficiency_and_core_figures(self):
        row = demo_gil.Measurement("cpu", "processes", 4, [1.0, 2.0, 3.0], sequential=4.0,
                                   cores=2)
        assert row.median == 2.0
        assert row.speedup == 2.0
        assert row.efficiency == 0.5  # per worker
        assert row.vs_cores == 1.0  # 4 workers, but only 2 cores to run them
        assert row.label == "4 processes"

    def test_quick_run_of_the_whole_demo(self, capsys, tmp_path, monkeypatch):
        from session3_threads import workloads

        monkeypatch.setattr(workloads, "workload_dir", lambda: tmp_path)
        demo_gil.main(["--quick", "--tasks", "2", "--start-method", SAFE_START])
        out = capsys.readouterr().out
        for text in ("CPU cores", "2 threads", "4 processes", "speedup", "efficiency"):
            assert text in out


def test_thread_pool_demo_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(demo_thread_pool, "DEMO_DIR", tmp_path)
    demo_thread_pool.main(["--workers", "2", "--images", "4", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "worker-1" in out and "worker-2" in out
    assert "'completed': 5, 'failed': 1" in out
    assert "InvalidImageError" in out
