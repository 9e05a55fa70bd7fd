"""Helpers for the dashboard's browser tests and its 100,000-task measurement.

- ``chromium_path()``: the system Chromium the tests drive (nothing downloads a browser).
- ``fill_completed(queue, n)`` / ``fill_rows(store, n)``: many completed tasks at once,
  in Redis and in the database, the way they would be after a long day's work.
- ``image_bytes(w, h)``: an image to upload, made here (no file to ship).

Why Playwright and not Selenium: Playwright's ``expect`` waits for what a person
would see ("this cell says 3") up to a deadline, so a test needs no sleeps and
no hand-written polling, and it drives the system Chromium through
``executable_path`` without a matching chromedriver.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import uuid

from PIL import Image, ImageDraw

from session5_recovery.workers import RedisTaskQueue

from ..store import TaskStore, fingerprint

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
HOW_TO_GET_CHROMIUM = (
    "the dashboard's browser tests need Chromium: on Debian/Ubuntu `sudo apt-get install "
    "chromium`, elsewhere install Chrome or Chromium and set CHROMIUM_PATH=/path/to/it "
    "(the tests never download a browser)")
FILL_BATCH = 5000  # commands per pipeline round trip when filling


def chromium_path() -> str | None:
    """``$CHROMIUM_PATH``, else the first system Chromium found; None if there is none."""
    given = os.environ.get("CHROMIUM_PATH")
    if given:
        return given if os.path.exists(given) else None
    for candidate in CHROMIUM_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return shutil.which("chromium")


def launch_args() -> list[str]:
    # Chromium refuses to start its sandbox as root (CI containers run as root).
    return ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


def image_bytes(width: int, height: int, fmt: str = "PNG") -> bytes:
    """A gradient with a few shapes: small to store, real work to filter, edges to find."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    w, h = width, height
    draw.ellipse((w * 0.1, h * 0.15, w * 0.45, h * 0.6), fill=(220, 60, 40))
    draw.rectangle((w * 0.55, h * 0.2, w * 0.9, h * 0.5), fill=(40, 90, 200))
    draw.polygon([(w * 0.2, h * 0.9), (w * 0.5, h * 0.65), (w * 0.8, h * 0.9)], fill=(250, 200, 0))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def fill_completed(queue: RedisTaskQueue, count: int, *, prefix: str = "bulk") -> list[str]:
    """Write ``count`` completed tasks into the queue's keys, pipelined; their ids.

    The same keys and fields the queue's own enqueue and complete commands write
    (task hash, ``{q}:tasks``, ``{q}:completed``), without 300,000 round trips
    and without 200,000 events (the stream is capped anyway). For tests and
    measurements on a queue of their own; ``queue.clear()`` removes it all.
    """
    now = time.time()
    ids = [f"{prefix}{n:08d}{uuid.uuid4().hex[:8]}" for n in range(count)]
    data = json.dumps({"type": "noop"})
    keys = queue.keys
    for start in range(0, count, FILL_BATCH):
        batch = ids[start:start + FILL_BATCH]
        pipe = queue.client.pipeline(transaction=False)
        pipe.sadd(keys.tasks, *batch)
        for task_id in batch:
            pipe.hset(keys.task(task_id), mapping={
                "id": task_id, "type": "noop", "data": data, "status": "completed",
                "attempts": 1, "max_attempts": 3, "created_at": now, "started_at": now,
                "finished_at": now, "worker_id": "bulk-worker", "history": 0})
        pipe.rpush(keys.completed, *batch)
        pipe.execute()
    return ids


def fill_rows(store: TaskStore, ids: list[str], *, image: str = "photo_grace_hopper.jpg") -> None:
    """The database rows of completed tasks ``ids`` (one multi-row INSERT per batch)."""
    now = time.time()
    request = {"image": image, "filters": [], "priority": "normal"}
    digest = fingerprint(request)
    with store.engine.begin() as conn:
        for start in range(0, len(ids), FILL_BATCH):
            conn.execute(store.tasks.insert(), [
                {"id": task_id, "idempotency_key": None, "fingerprint": digest,
                 "status": "completed", "priority": "normal", "image": image,
                 "filters": "[]", "attempts": 1, "error": None, "worker_id": "bulk-worker",
                 "result_path": None, "last_event": None,
                 "created_at": now - len(ids) + start + offset, "updated_at": now,
                 "started_at": now, "finished_at": now}
                for offset, task_id in enumerate(ids[start:start + FILL_BATCH])])
