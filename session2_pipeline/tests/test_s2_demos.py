"""The demos run and produce what their README section promises (into a temporary folder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

from session2_pipeline.demos import demo_batch, demo_single_image

SESSION_DIR = Path(__file__).resolve().parent.parent


def test_single_image_demo_writes_a_contact_sheet(tmp_path, capsys):
    sheet_path = demo_single_image.main(["--output", str(tmp_path)])
    assert sheet_path == tmp_path / "contact_sheet.png"
    with Image.open(sheet_path) as sheet:
        assert sheet.format == "PNG"
        assert sheet.width == demo_single_image.COLUMNS * demo_single_image.TILE_WIDTH
    out = capsys.readouterr().out
    assert "Contact sheet (7 tiles)" in out and str(sheet_path) in out
    for label, _ in demo_single_image.STEPS:
        assert label in out


def test_batch_demo_skips_the_bad_file_and_goes_on(tmp_path, capsys):
    report = demo_batch.main(["--output", str(tmp_path), "--count", "4", "--no-progress"])
    assert len(report.outcomes) == 5 and len(report.succeeded) == 4
    assert Path(report.failed[0].input_path).name == demo_batch.BAD_FILE_NAME
    out = capsys.readouterr().out
    assert "SKIPPED" in out and "Baseline:" in out
    assert len(list((tmp_path / "batch_output").iterdir())) == 4


def test_batch_demo_processes_only_the_images_of_this_run(tmp_path, capsys):
    demo_batch.main(["--output", str(tmp_path), "--count", "5", "--no-progress"])
    report = demo_batch.main(["--output", str(tmp_path), "--count", "2", "--no-progress"])
    assert len(report.outcomes) == 3, (
        f"--count 2 after --count 5 processed {[Path(o.input_path).name for o in report.outcomes]}: "
        f"expected 2 images and the bad file, not the earlier run's leftovers")


def test_demo_runs_from_inside_the_session_folder(tmp_path):
    """`python demos/demo_batch.py`, as a newcomer types it, imports the installed package."""
    result = subprocess.run(
        [sys.executable, "demos/demo_batch.py", "--output", str(tmp_path), "--count", "2",
         "--no-progress"],
        cwd=SESSION_DIR, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "2 of 3 images processed" in result.stdout
