"""Tests for exercise 3: write_atomically and run_batch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from session2_pipeline.core import FilterPipeline
from session2_pipeline.filters import BaseFilter, GrayscaleFilter
from workshop.exercises import load_exercise
from workshop.images import sample_photo

ex = load_exercise(__file__)  # the learner's file, the solution, or a mutant


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def destination_of(fp) -> Path:
    """Where Image.save was asked to write: a path, or an open file's name."""
    if isinstance(fp, (str, os.PathLike)):
        return Path(fp).resolve()
    return Path(fp.name).resolve()


class TestPart1_WriteAtomically:
    @pytest.mark.parametrize("name, image_format", [("out.png", "PNG"), ("out.jpg", "JPEG")])
    def test_writes_a_readable_image_in_the_format_of_the_extension(self, tmp_path, name,
                                                                     image_format):
        target = tmp_path / name
        returned = ex.write_atomically(Image.new("RGB", (16, 8), "red"), target)
        assert Path(returned) == target, f"write_atomically returned {returned!r}; expected {target}"
        with Image.open(target) as written:
            assert written.format == image_format and written.size == (16, 8), (
                f"write_atomically(image, {name!r}) wrote a {written.format} image of "
                f"{written.size}; expected {image_format} of (16, 8)")
        assert files_in(tmp_path) == [name], (
            f"after write_atomically the folder holds {files_in(tmp_path)}; expected only "
            f"{name!r} (remove or rename the temporary file)")

    def test_the_image_is_written_elsewhere_in_the_same_folder_first(self, tmp_path,
                                                                      monkeypatch):
        target = tmp_path / "out.png"
        target.write_bytes(b"old content")
        seen = []
        real_save = Image.Image.save

        def spying_save(self, fp, *args, **kwargs):
            seen.append((destination_of(fp), target.read_bytes()))
            return real_save(self, fp, *args, **kwargs)

        monkeypatch.setattr(Image.Image, "save", spying_save)
        ex.write_atomically(Image.new("RGB", (4, 4)), target)
        assert seen, "write_atomically never called image.save()"
        destination, target_content = seen[0]
        assert destination != target.resolve(), (
            "write_atomically saved straight into the target; a crash half-way would "
            "leave half an image there. Save to a temporary file, then os.replace it")
        assert destination.parent == target.resolve().parent, (
            f"the temporary file was {destination}, in another folder than {target}; a "
            f"rename is only atomic within one folder's file system")
        assert target_content == b"old content"

    def test_a_failed_save_keeps_the_old_file_and_leaves_nothing_behind(self, tmp_path,
                                                                         monkeypatch):
        target = tmp_path / "out.png"
        Image.new("RGB", (4, 4), "blue").save(target)
        before = target.read_bytes()

        def disk_full(self, fp, *args, **kwargs):
            if hasattr(fp, "write"):
                fp.write(b"half an ima")
            else:
                Path(fp).write_bytes(b"half an ima")
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(Image.Image, "save", disk_full)
        with pytest.raises(OSError):
            ex.write_atomically(Image.new("RGB", (4, 4), "red"), target)
        assert target.read_bytes() == before, (
            "after a failed save the old out.png was changed; it must stay as it was")
        assert files_in(tmp_path) == ["out.png"], (
            f"after a failed save the folder holds {files_in(tmp_path)}; delete the "
            f"temporary file when saving fails")

    def test_overwrites_an_existing_output(self, tmp_path):
        target = tmp_path / "out.png"
        ex.write_atomically(Image.new("RGB", (4, 4), "blue"), target)
        ex.write_atomically(Image.new("RGB", (4, 4), "red"), target)
        with Image.open(target) as written:
            assert written.getpixel((0, 0)) == (255, 0, 0)
        assert files_in(tmp_path) == ["out.png"]


class CrashOnWidth7(BaseFilter):
    """A filter with a bug that only one image triggers."""

    name = "crash_on_width_7"

    def apply(self, image):
        if image.width == 7:
            raise RuntimeError("cannot handle width 7")
        return image.copy()


@pytest.fixture
def inputs(tmp_path) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    good = []
    for index, colour in enumerate(["red", "green", "blue"]):
        path = folder / f"good_{index}.png"
        Image.new("RGB", (8, 8), colour).save(path)
        good.append(path)
    text = folder / "text.jpg"
    text.write_text("just text, no JPEG")
    data = sample_photo().read_bytes()
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(data[: len(data) // 3])
    return [good[0], text, good[1], truncated, good[2]]


class TestPart2_RunBatch:
    def test_bad_images_are_recorded_and_the_batch_goes_on(self, inputs, tmp_path):
        out = tmp_path / "out"
        result = ex.run_batch(FilterPipeline([GrayscaleFilter()]), inputs, out)
        processed = [Path(p).name for p in result.processed]
        assert processed == ["good_0.png", "good_1.png", "good_2.png"], (
            f"run_batch processed {processed}; expected all three good images, including "
            f"the ones after the bad files")
        assert sorted(result.errors) == sorted([str(inputs[1]), str(inputs[3])]), (
            f"run_batch recorded errors for {sorted(result.errors)}; expected the text "
            f"file and the truncated JPEG, keyed by str(path)")
        for path, message in result.errors.items():
            assert isinstance(message, str) and Path(path).name in message, (
                f"the error recorded for {path} is {message!r}; record the exception's "
                f"message (it names the file), e.g. f'{{type(e).__name__}}: {{e}}'")
        assert files_in(out) == ["good_0.png", "good_1.png", "good_2.png"]
        with Image.open(out / "good_0.png") as written:
            assert written.mode == "L" and written.getpixel((0, 0)) == 76

    def test_a_missing_file_is_an_error_too(self, tmp_path):
        missing = tmp_path / "nowhere.png"
        result = ex.run_batch(FilterPipeline(), [missing], tmp_path / "out")
        assert result.processed == [] and str(missing) in result.errors, (
            f"run_batch on a missing file gave processed={result.processed}, "
            f"errors={result.errors}; expected an error for {missing}")

    def test_a_filter_crash_on_one_image_costs_only_that_image(self, tmp_path):
        folder = tmp_path / "in"
        folder.mkdir()
        paths = []
        for width in (5, 7, 9):
            paths.append(folder / f"w{width}.png")
            Image.new("RGB", (width, 4)).save(paths[-1])
        result = ex.run_batch(FilterPipeline([CrashOnWidth7()]), paths, tmp_path / "out")
        assert [Path(p).name for p in result.processed] == ["w5.png", "w9.png"], (
            f"run_batch processed {[Path(p).name for p in result.processed]}; a bug that "
            f"hits one image (w7.png) must not stop the others")
        assert "cannot handle width 7" in result.errors[str(paths[1])]

    def test_creates_the_output_folder(self, inputs, tmp_path):
        out = tmp_path / "deep" / "er"
        result = ex.run_batch(FilterPipeline(), inputs[:1], out)
        assert out.is_dir() and len(result.processed) == 1
