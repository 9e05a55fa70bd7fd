"""Progress reports through the API's streams, and the names uploads had on the client's disk.

A progress report is not this session's: any worker may write one, as the README's
contract says (a ``progress`` event naming its task, and the same numbers on the
task's record). These tests write them by hand, exactly as a producer would, so
they hold whichever later code produces them.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from PIL import Image

from session6_api.dashboard import event_view
from session6_api.images import NAME_LENGTH, ImageLibrary, display_name
from session6_api.tests.test_s6_api import SAMPLE, post_task, sse_events

pytestmark = [pytest.mark.redis, pytest.mark.databases("sqlite"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
HOSTILE = "<img src=x onerror=alert(1)>.png"


def report_progress(queue, task_id: str, worker_id: str, done: int, total: int,
                    message: str = "") -> None:
    """What a handler's progress report writes: the task's record and one stream event."""
    now = time.time()
    queue.client.hset(queue.keys.task(task_id), mapping={
        "progress_done": done, "progress_total": total, "progress_message": message,
        "progress_at": now})
    queue.client.xadd(queue.keys.events, {"event": "progress", "ts": now, "task": task_id,
                                          "worker": worker_id, "done": done, "total": total,
                                          "message": message})


def test_a_task_s_event_stream_carries_its_progress_reports(api):
    queue = api.backends.queue
    task_id = post_task(api).json()["id"]
    api.pump()
    queue.register_worker("w1")
    claimed = queue.get_task("w1", timeout=1)
    assert claimed is not None and claimed.id == task_id
    report_progress(queue, task_id, "w1", 3, 10, "rows sent")
    report_progress(queue, task_id, "w1", 10, 10, "rows sent")
    assert queue.mark_completed(task_id, {"ok": True}, worker_id="w1")

    events = sse_events(api.client.get(f"/tasks/{task_id}/events").text)
    assert [e["event"] for e in events] == ["enqueued", "claimed", "progress", "progress",
                                            "completed"]
    first = json.loads(events[2]["data"])
    assert (first["task"], first["done"], first["total"], first["message"]) == \
        (task_id, "3", "10", "rows sent")


def test_the_dashboard_feed_and_state_carry_progress_as_numbers(api):
    queue = api.backends.queue
    task_id = post_task(api).json()["id"]
    api.pump()
    queue.register_worker("w1")
    assert queue.get_task("w1", timeout=1) is not None
    report_progress(queue, task_id, "w1", 4, 9, "pasted 4")

    state = api.client.get("/dashboard/state").json()
    assert state["progress"][task_id]["done"] == 4
    assert state["progress"][task_id]["total"] == 9
    assert state["progress"][task_id]["message"] == "pasted 4"

    # The feed's message for it (what /dashboard/stream sends as a "queue" message).
    (view,) = [event_view(e) for e in queue.events(100) if e.name == "progress"]
    assert view["progress"] == {"task": task_id, "done": 4, "total": 9, "message": "pasted 4"}
    assert view["text"] == "progress 4/9 pasted 4"


def png(size=(8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_upload_keeps_its_name_for_display_never_as_a_path(api):
    created = api.client.post("/images", files={"file": (f"../../{HOSTILE}", png(), "image/png")})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == HOSTILE  # its last path part only; escaping is the page's job
    assert {"id", "width", "height", "format"} <= set(body)  # the fields it always had
    stored = [p.name for p in (api.config.data_dir / "images").glob("img_*")]
    assert stored == [f"{body['id']}.png"]  # the file is named by its id, never by the client

    task = post_task(api, {"image": body["id"]}).json()["id"]
    assert api.client.get(f"/tasks/{task}").json()["image_name"] == HOSTILE
    listed = api.client.get("/tasks").json()["items"]
    assert [t["image_name"] for t in listed] == [HOSTILE]
    sample_task = post_task(api, {"image": SAMPLE}).json()["id"]
    assert api.client.get(f"/tasks/{sample_task}").json()["image_name"] is None


def test_display_names_are_cleaned_and_bounded():
    assert display_name("C:\\Users\\ada\\holiday.jpg") == "holiday.jpg"
    assert display_name("a\nb\u202egpj.exe") == "abgpj.exe"  # no newlines, no RTL override
    long = display_name("x" * 500 + ".png")
    assert len(long) == NAME_LENGTH and long.endswith("xx.png")
    assert display_name("../") is None and display_name(None) is None


def test_an_expired_upload_takes_its_name_with_it(tmp_path):
    library = ImageLibrary(tmp_path / "images", tmp_path / "samples", max_bytes=1 << 20,
                           max_pixels=1 << 20)
    (tmp_path / "images").mkdir()
    kept, _ = library.save_upload(png(), "kept.png")
    gone, _ = library.save_upload(png(), "gone.png")
    assert sorted(p.suffix for p in (tmp_path / "images").iterdir()) == [".png", ".png"]
    assert library.expire_unused(-1, lambda ids: {kept}) == 1
    assert library.uploaded_name(kept) == "kept.png"
    assert library.uploaded_name(gone) is None
    assert sorted(p.name for p in library.names_dir.iterdir()) == [f"{kept}.txt"]
    assert library.uploaded_name("../../etc/passwd") is None  # not an id: never a path
