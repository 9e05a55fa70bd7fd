"""The demo's image work, in this process, and the command line's answers to bad input."""

import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

import session8_workflows
from session2_pipeline.core.samples import make_sample_images
from session8_workflows import demo_handlers, make_worker
from session8_workflows.cli import main
from session8_workflows.demos.demo_thumbnails import build

pytestmark = pytest.mark.redis


def test_thumbnails_then_a_contact_sheet_then_a_zip(queue, tmp_path):
    images = make_sample_images(tmp_path / "in", 3, include_photo=False)
    out = tmp_path / "out"
    out.mkdir()
    wid = queue.workflows.start(build(images, out), known_types=demo_handlers().names())
    worker = make_worker("w1", queue, allowed_dirs=[tmp_path], log=None)
    assert worker.start(burst=True, handle_signals=False).completed == 5
    assert queue.workflows.state(wid) == "completed"
    with Image.open(out / "contact_sheet.png") as sheet:
        assert sheet.size == (2 * 160, 2 * 160), "3 thumbnails make a 2 x 2 grid"
    with zipfile.ZipFile(out / "thumbnails.zip") as archive:
        assert sorted(archive.namelist()) == sorted(
            ["contact_sheet.png", *(f"thumb_{p.stem}.png" for p in images)])
    progress = [e for e in queue.events(None) if e.name == "progress"]
    assert progress and progress[-1].fields["done"] == progress[-1].fields["total"] == "3"


def run_cli(*args, redis_url, queue_name):
    """``python -m session8_workflows ...``, in this process: (exit code, stderr lines)."""
    return main([*args, "--redis-url", redis_url, "--queue", queue_name])


@pytest.mark.parametrize("spec, message", [
    ({"name": "bad", "task": {"type": "noop"}, "cron": "99 * * * *"},
     "error: schedule 'bad': invalid cron expression '99 * * * *'"),
    ({"name": "old", "task": {"type": "noop"}, "every": 5, "until": 1000},
     "error: schedule 'old' is in the past: until=1000"),
    ({"name": "x", "task": {"type": "noop"}, "every": 5, "at": 3},
     "error: schedule 'x': unknown field(s) ['at']"),
])
def test_the_scheduler_refuses_a_bad_schedule_in_one_line(tmp_path, redis_url, queue, written,
                                                         capsys, spec, message):
    path = tmp_path / "schedules.json"
    path.write_text(json.dumps([spec]))
    code = run_cli("scheduler", "--schedules", str(path), redis_url=redis_url,
                   queue_name=queue.queue_name)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith(message), lines
    assert written() == [], "a refused scheduler wrote to Redis"


@pytest.mark.parametrize("option, message", [
    (["--lease-ttl", "nan"], "error: lease ttl must be between 0.1 and 3600 seconds, got nan"),
    (["--tick", "9"], "error: tick_interval must be at least 0.01 s and under half the lease"),
])
def test_the_scheduler_refuses_bad_timings_in_one_line(redis_url, queue, written, capsys,
                                                       option, message):
    schedules = Path(session8_workflows.__file__).parent / "demos" / "schedules.json"
    code = run_cli("scheduler", "--schedules", str(schedules), *option, redis_url=redis_url,
                   queue_name=queue.queue_name)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith(message), lines
    assert written() == []
