"""Reading untrusted image files, writing atomically, and staying inside a folder."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from session2_pipeline.core import (
    MAX_PIXELS,
    InvalidImageError,
    PipelineInputError,
    UnsafePathError,
    image_io,
    load_image,
    resolve_inside,
    save_image_atomic,
)
from workshop.images import sample_photo


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that *claims* width x height pixels: what a decompression bomb looks like."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


class TestLoadImage:
    def test_loads_the_real_photo(self):
        image = load_image(sample_photo())
        assert image.mode == "RGB" and image.size == (512, 600)

    def test_text_file_named_jpg_is_refused_with_what_was_found(self, tmp_path):
        path = tmp_path / "holiday.jpg"
        path.write_text("Dear diary, today I did not take a photo.")
        with pytest.raises(InvalidImageError) as caught:
            load_image(path)
        message = str(caught.value)
        assert "holiday.jpg" in message and "not an image" in message
        assert "Dear diary" in message, f"the message should show the start of the file: {message}"

    def test_zero_byte_file(self, tmp_path):
        path = tmp_path / "empty.png"
        path.touch()
        with pytest.raises(InvalidImageError, match=r"empty.png.*empty \(0 bytes\)"):
            load_image(path)

    def test_truncated_jpeg(self, tmp_path):
        data = sample_photo().read_bytes()
        path = tmp_path / "cut.jpg"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(InvalidImageError, match=r"cut.jpg.*truncated"):
            load_image(path)

    def test_missing_file_and_folder(self, tmp_path):
        with pytest.raises(InvalidImageError, match="found nothing"):
            load_image(tmp_path / "nope.png")
        with pytest.raises(InvalidImageError, match="found a folder"):
            load_image(tmp_path)

    def test_decompression_bomb_is_refused_before_decoding(self, tmp_path):
        path = tmp_path / "bomb.png"
        path.write_bytes(png_header_only(20_000, 20_000))  # 400 megapixels in 45 bytes
        assert path.stat().st_size < 100
        with pytest.raises(InvalidImageError, match=r"bomb.png.*pixels"):
            load_image(path)

    def test_bomb_beyond_pillows_own_limit_is_also_an_invalid_image(self, tmp_path):
        path = tmp_path / "huge.png"
        path.write_bytes(png_header_only(100_000, 100_000))
        with pytest.raises(InvalidImageError, match="huge.png"):
            load_image(path, max_pixels=10**11)

    def test_max_pixels_is_checked_with_a_clear_message(self, tmp_path):
        path = tmp_path / "small.png"
        Image.new("RGB", (100, 50)).save(path)
        with pytest.raises(InvalidImageError) as caught:
            load_image(path, max_pixels=4_999)
        assert "100x50" in str(caught.value) and "4,999" in str(caught.value)
        assert load_image(path, max_pixels=5_000).size == (100, 50)
        assert MAX_PIXELS >= 10_000_000

    def test_exif_orientation_is_applied(self, tmp_path):
        # Stored landscape, 40 wide and 20 high, red on the left half; the EXIF tag
        # 6 says "rotate 90 degrees clockwise to display".
        stored = Image.new("RGB", (40, 20), "blue")
        stored.paste((255, 0, 0), (0, 0, 20, 20))
        exif = Image.Exif()
        exif[0x0112] = 6
        path = tmp_path / "phone.jpg"
        stored.save(path, exif=exif, quality=95)
        image = load_image(path)
        assert image.size == (20, 40), "a portrait should come out 20 wide and 40 high"
        red, green, blue = image.getpixel((10, 5))  # the left half is now on top
        assert red > 200 and blue < 60, f"expected red at the top, found {(red, green, blue)}"

    def test_palette_and_16_bit_images_come_out_in_filterable_modes(self, tmp_path):
        Image.new("RGB", (4, 4), "red").convert("P").save(tmp_path / "p.png")
        Image.new("I;16", (4, 4), 40_000).save(tmp_path / "deep.png")
        assert load_image(tmp_path / "p.png").mode == "RGB"
        deep = load_image(tmp_path / "deep.png")
        assert deep.mode == "L" and deep.getpixel((0, 0)) == 40_000 // 256

    @pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd (Linux)")
    def test_no_file_stays_open_after_a_load_or_a_refusal(self, tmp_path):
        # Linux lets a program rename or delete a file it holds open, so only the
        # process's own table of open files shows a leak. A GIF with two frames keeps
        # its file open after load() unless it is closed; a refused image is given up
        # half-way, while the caller still holds the error (and its frames).
        frames = [Image.new("RGB", (4, 4), colour) for colour in ("red", "blue")]
        frames[0].save(tmp_path / "two.gif", save_all=True, append_images=frames[1:])
        Image.new("RGB", (4, 4)).save(tmp_path / "x.png")
        Image.new("RGB", (8, 8)).save(tmp_path / "big.png")
        kept = [load_image(tmp_path / "two.gif"), load_image(tmp_path / "x.png")]
        with pytest.raises(InvalidImageError) as refused:
            load_image(tmp_path / "big.png", max_pixels=10)
        assert kept and refused.value
        assert open_files_under(tmp_path) == []


class TestSaveImageAtomic:
    def test_format_comes_from_the_extension(self, tmp_path):
        image = Image.new("RGB", (8, 8), "green")
        for name, expected in [("a.png", "PNG"), ("b.jpg", "JPEG"), ("c.jpeg", "JPEG"),
                               ("d.webp", "WEBP"), ("e.bmp", "BMP")]:
            saved = save_image_atomic(image, tmp_path / name)
            assert saved == tmp_path / name
            with Image.open(saved) as written:
                assert written.format == expected, name

    def test_explicit_format_wins(self, tmp_path):
        save_image_atomic(Image.new("RGB", (8, 8)), tmp_path / "data.bin", format="png")
        with Image.open(tmp_path / "data.bin") as written:
            assert written.format == "PNG"

    def test_unknown_extension_is_explained(self, tmp_path):
        with pytest.raises(PipelineInputError, match=r"'\.xyz'.*\.png"):
            save_image_atomic(Image.new("RGB", (8, 8)), tmp_path / "out.xyz")
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize("mode, colour", [("RGBA", (255, 0, 0, 0)), ("LA", (0, 0)),
                                              ("P", 3), ("RGBA", (0, 0, 0, 255))])
    def test_jpeg_output_of_modes_jpeg_cannot_store(self, tmp_path, mode, colour):
        path = save_image_atomic(Image.new(mode, (8, 8), colour), tmp_path / "out.jpg")
        with Image.open(path) as written:
            assert written.format == "JPEG" and written.mode in ("RGB", "L")

    def test_transparent_pixels_become_white_in_jpeg(self, tmp_path):
        path = save_image_atomic(Image.new("RGBA", (8, 8), (0, 0, 0, 0)), tmp_path / "t.jpg")
        with Image.open(path) as written:
            assert min(written.getpixel((4, 4))) >= 250

    def test_no_temporary_files_are_left(self, tmp_path):
        save_image_atomic(Image.new("RGB", (8, 8)), tmp_path / "out.png")
        save_image_atomic(Image.new("RGB", (8, 8), "red"), tmp_path / "out.png")  # overwrite
        assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
        with Image.open(tmp_path / "out.png") as written:
            assert written.getpixel((0, 0)) == (255, 0, 0)

    def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(self, tmp_path,
                                                                       monkeypatch):
        target = tmp_path / "out.png"
        save_image_atomic(Image.new("RGB", (8, 8), "red"), target)
        before = target.read_bytes()

        def disk_full(self, fp, *args, **kwargs):
            fp.write(b"half an ima")
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(Image.Image, "save", disk_full)
        with pytest.raises(OSError, match="No space"):
            save_image_atomic(Image.new("RGB", (8, 8), "blue"), target)
        assert target.read_bytes() == before, "the old output must be untouched"
        assert [p.name for p in tmp_path.iterdir()] == ["out.png"]

    def test_the_temporary_file_is_in_the_target_folder(self, tmp_path, monkeypatch):
        seen: list[Path] = []
        real_replace = os.replace

        def spy(source, destination):
            seen.append(Path(source))
            real_replace(source, destination)

        monkeypatch.setattr(image_io.os, "replace", spy)
        save_image_atomic(Image.new("RGB", (8, 8)), tmp_path / "sub" / "out.png")
        assert len(seen) == 1 and seen[0].parent == tmp_path / "sub"
        assert seen[0].name.startswith(".out.png.") and seen[0].suffix == ".tmp"


class TestResolveInside:
    def test_relative_path_inside(self, tmp_path):
        assert resolve_inside("a/b.jpg", tmp_path) == (tmp_path / "a" / "b.jpg").resolve()

    def test_absolute_path_inside(self, tmp_path):
        inside = tmp_path / "x.png"
        assert resolve_inside(inside, tmp_path) == inside.resolve()

    @pytest.mark.parametrize("path", ["../escape.jpg", "a/../../escape.jpg", "/etc/passwd"])
    def test_refuses_paths_outside(self, tmp_path, path):
        root = tmp_path / "out"
        with pytest.raises(UnsafePathError) as caught:
            resolve_inside(path, root)
        assert path in str(caught.value) and str(root) in str(caught.value)

    def test_refuses_a_sibling_folder_with_the_same_prefix(self, tmp_path):
        (tmp_path / "out").mkdir()
        with pytest.raises(UnsafePathError):
            resolve_inside(tmp_path / "out-evil" / "x.png", tmp_path / "out")

    def test_refuses_a_symlink_that_points_outside(self, tmp_path):
        root = tmp_path / "out"
        root.mkdir()
        try:
            (root / "link").symlink_to(tmp_path)
        except OSError as error:  # Windows without the symlink privilege
            pytest.skip(f"cannot create a symbolic link here: {error}")
        with pytest.raises(UnsafePathError):
            resolve_inside("link/x.png", root)


def open_files_under(folder: Path) -> list[str]:
    """The files under ``folder`` this process holds open, from its descriptor table."""
    held = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # the descriptor of the listing itself, closed by now
            continue
        if target.startswith(str(folder)):
            held.append(target)
    return held
