"""What the service keeps, and for how long: an upload budget per client (429), unused
uploads that expire, sent outbox rows that are deleted once their task finished, and
a documented clean-up command for the long-term record.

Before: 60 anonymous 1 MiB uploads in a row were all kept, none used, with no quota
and no clean-up; every task kept its outbox row for ever.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from session6_api.app import create_app
from session6_api.config import UPLOAD_BUDGET_BYTES
from session6_api.images import UploadBudget

pytestmark = [pytest.mark.redis]
MIB = 1024 * 1024


def photo(size: int) -> bytes:
    """A PNG of about ``size`` bytes (noise does not compress)."""
    side = int((size / 3) ** 0.5)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_client_past_its_upload_budget_gets_429_with_retry_after(api_config):
    """The issue's 60 anonymous 1 MiB uploads in a row, with the default budget."""
    app = create_app(api_config)
    content = photo(MIB)
    statuses = []
    with TestClient(app) as client:
        for _ in range(60):
            response = client.post("/images", files={"file": ("a.png", content, "image/png")})
            statuses.append(response.status_code)
        refused = response
    assert statuses.count(201) == UPLOAD_BUDGET_BYTES // len(content)
    assert statuses.count(429) == 60 - statuses.count(201)
    assert int(refused.headers["retry-after"]) >= 1 and "budget" in refused.json()["detail"]
    kept = list(api_config.images_dir.iterdir())
    assert len(kept) == statuses.count(201)
    app.state.backends.store.drop_schema()


def test_the_budget_frees_up_as_the_window_moves():
    now = [0.0]
    budget = UploadBudget(3, window=10, clock=lambda: now[0])
    assert [budget.spend("a", 1) for _ in range(3)] == [None, None, None]
    assert budget.spend("a", 1) == 10.0 and budget.spend("b", 1) is None
    now[0] = 10.0
    assert budget.spend("a", 1) is None


def test_unused_uploads_expire_and_used_ones_stay(api):
    ids = [api.client.post("/images", files={"file": ("a.png", photo(1000), "image/png")})
           .json()["id"] for _ in range(3)]
    assert api.client.post("/tasks", json={"image": ids[0]}).status_code == 202
    later = time.time() + api.config.upload_ttl + 1
    deleted = api.backends.images.expire_unused(api.config.upload_ttl,
                                                api.backends.store.images_in_use, now=later)
    assert deleted == 2
    assert sorted(p.stem for p in api.config.images_dir.iterdir()) == [ids[0]]


def test_sent_outbox_rows_of_finished_tasks_are_deleted(api):
    ids = [api.client.post("/tasks", json={"image": "photo_grace_hopper.jpg"}).json()["id"]
           for _ in range(5)]
    api.pump()
    queue = api.backends.queue
    for task in queue.get_tasks("worker-1", 3, timeout=0):
        queue.mark_completed(task.id, {"ok": True}, worker_id="worker-1")
    api.pump()
    assert api.backends.housekeeping()["outbox_rows"] == 3
    with api.backends.store.engine.connect() as conn:
        left = conn.execute(api.backends.store.outbox.select()).all()
    assert len(left) == 2 and {row.task_id for row in left} < set(ids)


def test_the_cleanup_command_deletes_old_finished_tasks(api, tmp_path):
    for _ in range(4):
        api.client.post("/tasks", json={"image": "photo_grace_hopper.jpg"})
    api.pump()
    queue = api.backends.queue
    for task in queue.get_tasks("worker-1", 2, timeout=0):
        queue.mark_completed(task.id, {"ok": True}, worker_id="worker-1")
    api.pump()
    env = {**os.environ, "SESSION6_DATA_DIR": str(api.config.data_dir),
           "SESSION6_TABLE_PREFIX": api.config.table_prefix}
    done = subprocess.run([sys.executable, "-m", "session6_api", "cleanup",
                           "--older-than-days", "0", "--database-url", api.config.database_url],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "2 sent outbox rows" in done.stdout and "2 finished tasks older than 0 days" \
        in done.stdout, done.stdout
    assert api.backends.store.counts() == {**api.backends.store.counts(), "completed": 0,
                                           "pending": 2}
