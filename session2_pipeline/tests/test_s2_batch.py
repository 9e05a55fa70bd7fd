"""BatchProcessor: a folder or a list in, outputs and a report out; bad images skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from session2_pipeline.core import (
    BatchProcessor,
    BatchReport,
    FilterFactory,
    FilterPipeline,
    ImageOutcome,
    default_pipeline,
)
from session2_pipeline.filters import BaseFilter, GrayscaleFilter
from workshop.images import make_sample_images


@pytest.fixture
def inputs(tmp_path) -> Path:
    """Three good images and, between them in name order, one text file named .jpg."""
    folder = tmp_path / "in"
    folder.mkdir()
    for index, colour in enumerate(["red", "green", "blue"]):
        Image.new("RGB", (32, 24), colour).save(folder / f"img_{index}.png")
    (folder / "img_1_broken.jpg").write_text("this is text, not a JPEG")
    (folder / "notes.txt").write_text("not an image extension: ignored")
    (folder / ".img_9.png.123.tmp").write_bytes(b"temporary files are hidden")
    return folder


def gray_batch(output_dir: Path) -> BatchProcessor:
    return BatchProcessor(FilterPipeline([GrayscaleFilter()]), output_dir, show_progress=False)


class TestBatch:
    def test_a_bad_image_is_reported_and_the_batch_goes_on(self, inputs, tmp_path):
        out = tmp_path / "out"
        report = gray_batch(out).process(inputs)
        names = [Path(o.input_path).name for o in report.outcomes]
        assert names == ["img_0.png", "img_1.png", "img_1_broken.jpg", "img_2.png"]
        assert [Path(o.input_path).name for o in report.failed] == ["img_1_broken.jpg"]
        assert len(report.succeeded) == 3
        bad = report.failed[0]
        assert bad.output_path is None and "InvalidImageError" in bad.error
        assert "img_1_broken.jpg" in bad.error and "not an image" in bad.error
        # The image after the bad one was processed too, into real grayscale pixels.
        assert sorted(p.name for p in out.iterdir()) == ["img_0.png", "img_1.png", "img_2.png"]
        with Image.open(out / "img_2.png") as written:
            assert written.mode == "L" and written.getpixel((0, 0)) == 29

    def test_outcomes_have_times_and_the_report_a_summary(self, inputs, tmp_path):
        report = gray_batch(tmp_path / "out").process(inputs)
        assert isinstance(report, BatchReport)
        assert all(isinstance(o, ImageOutcome) and o.seconds >= 0 for o in report.outcomes)
        assert report.total_seconds >= sum(o.seconds for o in report.outcomes) * 0.9
        summary = report.summary()
        assert "3 of 4 images" in summary and "1 failed" in summary
        assert "img_1_broken.jpg" in summary and "average" in summary

    def test_a_list_of_paths_keeps_its_order_and_reports_missing_files(self, inputs, tmp_path):
        paths = [inputs / "img_2.png", tmp_path / "missing.png", inputs / "img_0.png"]
        report = gray_batch(tmp_path / "out").process(paths)
        assert [o.input_path for o in report.outcomes] == [str(p) for p in paths]
        assert [o.ok for o in report.outcomes] == [True, False, True]

    def test_same_names_from_different_folders_do_not_overwrite_each_other(self, tmp_path):
        for folder, colour in [("a", "red"), ("b", "blue")]:
            (tmp_path / folder).mkdir()
            Image.new("RGB", (4, 4), colour).save(tmp_path / folder / "x.png")
        report = gray_batch(tmp_path / "out").process([tmp_path / "a" / "x.png",
                                                       tmp_path / "b" / "x.png"])
        assert [Path(o.output_path).name for o in report.outcomes] == ["x.png", "x_2.png"]

    def test_refuses_to_overwrite_its_inputs(self, inputs):
        report = gray_batch(inputs).process([inputs / "img_0.png"])
        assert not report.outcomes[0].ok and "overwrite" in report.outcomes[0].error

    def test_a_filter_that_crashes_on_one_image_costs_only_that_image(self, tmp_path):
        class PickyFilter(BaseFilter):
            name = "picky"

            def apply(self, image):
                if image.width == 7:
                    raise RuntimeError("cannot handle width 7")
                return image.copy()

        folder = tmp_path / "in"
        folder.mkdir()
        for width in (5, 7, 9):
            Image.new("RGB", (width, 4)).save(folder / f"w{width}.png")
        report = BatchProcessor(FilterPipeline([PickyFilter()]), tmp_path / "out",
                                show_progress=False).process(folder)
        assert [o.ok for o in report.outcomes] == [True, False, True]
        assert "RuntimeError: cannot handle width 7" in report.failed[0].error

    def test_progress_bar_can_be_shown(self, inputs, tmp_path, capsys):
        BatchProcessor(default_pipeline(), tmp_path / "out", show_progress=True).process(inputs)
        assert "processing" in capsys.readouterr().out

    def test_sample_images_through_the_default_pipeline(self, tmp_path):
        images = make_sample_images(tmp_path / "samples", 3)
        pipeline = FilterFactory.pipeline("blur:radius=1|grayscale")
        report = BatchProcessor(pipeline, tmp_path / "out", show_progress=False).process(images)
        assert len(report.succeeded) == 3
        for outcome in report.succeeded:
            with Image.open(outcome.output_path) as written:
                assert written.format == "JPEG" and written.mode == "L"
        assert not list((tmp_path / "out").glob(".*")), "temporary files were left behind"
