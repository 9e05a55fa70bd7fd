"""``python -m session6_api.teaching.bench --quick`` runs both variants and prints the ratio.

Speed is never asserted (the machine may be busy): only that every request got
its answer (202 for the queue, 200 for the in-request variant) and that the
report has both rows and the ratios.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from workshop.paths import OUTPUT_DIR, REPO_ROOT

pytestmark = [pytest.mark.redis, pytest.mark.multiprocess, pytest.mark.slow]


def test_quick_bench_prints_both_variants_and_the_ratio(redis_url):
    result = subprocess.run([sys.executable, "-m", "session6_api.teaching.bench", "--quick"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "REDIS_URL": redis_url})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "202 Accepted (POST /tasks)" in out and "work in the request" in out
    assert "ratio: 202 answers" in out
    saved = json.loads((OUTPUT_DIR / "session6" / "bench.json").read_text())
    assert saved["accepted"]["statuses"] == {"202": saved["tasks"]}
    assert saved["in_request"]["statuses"] == {"200": saved["tasks"]}
    assert saved["throughput_ratio"] > 0
