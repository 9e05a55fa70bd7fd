"""Limits on what a client can make the service hold: bodies, pixels, files, links.

Each case below was accepted (or answered with the wrong status) before: a PNG
of 400 M declared pixels was 415 (the docs say 413), a chunked upload over
10 MiB was 400, a PNG of a few dozen bytes declaring 6300 x 6300 was stored (201) and
dead-lettered later, a symlink in the samples folder was served.
"""

from __future__ import annotations

import struct
import zlib

import pytest

pytestmark = [pytest.mark.redis, pytest.mark.databases("sqlite")]  # HTTP contracts


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares its size and has no pixel data at all (57 bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def upload(api, content: bytes, **kwargs):
    return api.client.post("/images", files={"file": ("x.png", content, "image/png")}, **kwargs)


def test_a_png_declaring_400_million_pixels_is_413(api):
    response = upload(api, png_header_only(20_000, 20_000))
    assert response.status_code == 413, response.text
    assert "pixels" in response.json()["detail"]


def test_a_png_with_a_size_and_no_pixels_is_refused_at_upload(api):
    content = png_header_only(6300, 6300)
    assert len(content) == 57  # signature, IHDR, an empty IDAT, IEND
    response = upload(api, content)
    assert response.status_code == 415, response.text
    assert list(api.config.images_dir.iterdir()) == []


def test_a_chunked_upload_over_the_limit_is_413(api):
    boundary = "xyz"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():  # no Content-Length: the client streams it in chunks
        yield head
        for _ in range(11):
            yield b"\0" * (1024 * 1024)
        yield tail

    response = api.client.post("/images", content=body(),
                               headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413, response.text
    assert "larger than" in response.json()["detail"]


def test_a_symlink_in_the_samples_folder_is_not_served(api, tmp_path):
    secret = tmp_path / "secret.jpg"
    secret.write_bytes((api.config.samples_dir / "photo_grace_hopper.jpg").read_bytes())
    (api.config.samples_dir / "linked.jpg").symlink_to(secret)
    response = api.client.post("/tasks", json={"image": "linked.jpg"})
    assert response.status_code == 422
    assert "not a regular file" in response.text
    # A task recorded before the link appeared: its input is not served either.
    task_id = api.client.post("/tasks", json={"image": "photo_grace_hopper.jpg"}).json()["id"]
    (api.config.samples_dir / "photo_grace_hopper.jpg").unlink()
    (api.config.samples_dir / "photo_grace_hopper.jpg").symlink_to(secret)
    assert api.client.get(f"/dashboard/tasks/{task_id}/input").status_code == 404
