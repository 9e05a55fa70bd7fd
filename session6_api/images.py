"""Uploaded images and bundled samples: where they live and what is accepted.

An upload is data from a stranger. It is stored under a name of our own
(``img_<random hex>.<format>``), never under the client's file name (which can
be ``../../.bashrc``). The client's name is kept beside it, cleaned and cut short, only
to be *shown* (the dashboard says ``holiday.png``, not ``img_b992...``): it is never
part of a path we open, and pages insert it as text, never as HTML. It must decode as an image (Pillow decides, not the file
extension or the Content-Type the client claims); and its pixel count is
checked before decoding, because a tiny file can declare 100,000 x 100,000
pixels and take gigabytes to decode (a "decompression bomb").
"""

from __future__ import annotations

import io
import re
import secrets
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from session2_pipeline.core.samples import make_sample_images

IMAGE_ID = re.compile(r"img_[0-9a-f]{32}")
SAMPLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,100}")
FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "BMP": "bmp", "WEBP": "webp", "TIFF": "tif"}
SAMPLE_COUNT = 4
NAME_LENGTH = 100  # characters of an uploaded file's name kept for display
NAMES_SUFFIX = "_names"  # a folder beside the uploads': <image id>.txt holds the uploaded name


def display_name(client_name: str | None) -> str | None:
    """The client's file name made safe to keep and show: its last path part, without
    control or format characters (no newlines, no right-to-left overrides), at most
    NAME_LENGTH characters (the end, which has the extension, is kept). None if
    nothing is left. Still untrusted text: a page must insert it as text."""
    if not client_name:
        return None
    last = re.split(r"[/\\]", client_name)[-1]
    kept = "".join(c for c in unicodedata.normalize("NFC", last)
                   if unicodedata.category(c)[0] != "C").strip()
    if len(kept) > NAME_LENGTH:
        kept = "..." + kept[-(NAME_LENGTH - 3):]
    return kept or None


class ImageRejected(ValueError):
    """An upload we do not keep; ``status`` is the HTTP code that says why (413 or 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class UploadBudget:
    """At most ``max_bytes`` of uploads per client in any ``window`` seconds (429 past it).

    Counted in memory, per client address: enough to stop one client filling the
    disk in a loop, not an accounting system (a restart forgets it).
    """

    def __init__(self, max_bytes: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.window = window
        self.clock = clock
        self._spent: dict[str, deque[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def spend(self, client: str, size: int) -> float | None:
        """Record ``size`` bytes for ``client``; None if within budget, else the seconds
        until enough of it is free again (nothing is recorded then)."""
        with self._lock:
            now = self.clock()
            spent = self._spent.setdefault(client, deque())
            while spent and spent[0][0] <= now - self.window:
                spent.popleft()
            used = sum(size for _, size in spent)
            if used + size > self.max_bytes:
                freed, wait = used, 0.0
                for when, old in spent:  # oldest first: when does enough fall out?
                    freed -= old
                    wait = when + self.window - now
                    if freed + size <= self.max_bytes:
                        break
                return max(1.0, wait)
            spent.append((now, size))
            if len(self._spent) > 10_000:  # forget idle clients
                for idle in [c for c, q in self._spent.items() if not q]:
                    del self._spent[idle]
            return None


class ImageLibrary:
    """The uploads folder and the samples folder, and the lookup of an image by name."""

    def __init__(self, images_dir: Path, samples_dir: Path, *, max_bytes: int,
                 max_pixels: int) -> None:
        self.images_dir = images_dir
        self.samples_dir = samples_dir
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        # Beside the uploads, not in their folder: that one holds images and nothing else.
        self.names_dir = images_dir.with_name(images_dir.name + NAMES_SUFFIX)

    def prepare(self) -> None:
        self.images_dir.mkdir(parents=True, exist_ok=True)
        make_sample_images(self.samples_dir, SAMPLE_COUNT)

    def samples(self) -> list[str]:
        return sorted(p.name for p in self.samples_dir.glob("*.jpg"))

    def save_upload(self, content: bytes, name: str | None = None) -> tuple[str, Image.Image]:
        """Check and store one upload; (image id, the opened image) or ImageRejected.
        ``name``: the uploaded file's name as ``display_name`` cleaned it, kept to show."""
        if len(content) > self.max_bytes:
            raise ImageRejected(413, f"the upload is {len(content):,} bytes; the limit is "
                                     f"{self.max_bytes:,} bytes. Send a smaller image")
        try:
            with Image.open(io.BytesIO(content)) as image:
                width, height = image.size
                if width * height > self.max_pixels:
                    raise ImageRejected(413, f"the image is {width} x {height} = "
                                             f"{width * height:,} pixels; the limit is "
                                             f"{self.max_pixels:,} pixels")
                image.verify()  # checks the file's structure (chunks, checksums)
                kind = image.format or ""
            # verify() does not decode: a 68-byte PNG that declares 6300 x 6300 and has no
            # pixel data passes it, and would be dead-lettered by a worker later. Decoding
            # now (bounded by the pixel check above) refuses it here, with the reason.
            with Image.open(io.BytesIO(content)) as decoded:
                decoded.load()
        except ImageRejected:
            raise
        except Image.DecompressionBombError as error:  # Pillow's own limit, above ours
            raise ImageRejected(413, f"the image has too many pixels ({error}); the limit is "
                                     f"{self.max_pixels:,} pixels") from None
        except UnidentifiedImageError:
            raise ImageRejected(415, "the upload does not decode as an image (Pillow does not "
                                     "recognise its format); send a JPEG, PNG, GIF, BMP, WebP "
                                     "or TIFF file") from None
        except (OSError, SyntaxError, ValueError) as error:
            raise ImageRejected(415, f"the upload does not decode as an image ({error}); send "
                                     f"a complete JPEG, PNG, GIF, BMP, WebP or TIFF file") from None
        if kind not in FORMATS:
            raise ImageRejected(415, f"image format {kind or 'unknown'} is not accepted; "
                                     f"send one of {', '.join(FORMATS)}")
        image_id = f"img_{secrets.token_hex(16)}"
        path = self.images_dir / f"{image_id}.{FORMATS[kind]}"
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(content)
        if name:
            self.names_dir.mkdir(parents=True, exist_ok=True)
            (self.names_dir / f"{image_id}.txt").write_text(name, encoding="utf-8")
        partial.replace(path)  # a reader never sees half a file
        return image_id, Image.open(path)

    def uploaded_name(self, image: str) -> str | None:
        """The name an uploaded image had on the client's disk; None for samples and
        uploads sent without one. ``image`` is checked to be an image id before it is
        made into a path."""
        if not IMAGE_ID.fullmatch(image):
            return None
        try:
            return (self.names_dir / f"{image}.txt").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def expire_unused(self, older_than: float, in_use: Callable[[list[str]], set[str]],
                      now: float | None = None) -> int:
        """Delete uploads older than ``older_than`` seconds that no task uses; how many.

        An upload nobody turned into a task within that time is not going to be; a
        stranger's files must not pile up for ever.
        """
        cutoff = (time.time() if now is None else now) - older_than
        candidates = {p.stem: p for p in self.images_dir.glob("img_*.*")
                      if IMAGE_ID.fullmatch(p.stem) and p.stat().st_mtime < cutoff}
        used = in_use(list(candidates))
        for name, path in candidates.items():
            if name not in used:
                path.unlink(missing_ok=True)
                (self.names_dir / f"{name}.txt").unlink(missing_ok=True)
        return len(candidates) - len(used & set(candidates))

    def resolve(self, name: str) -> Path:
        """The file for an image id or a sample name; ValueError saying what exists."""
        if IMAGE_ID.fullmatch(name):
            found = sorted(p for p in self.images_dir.glob(f"{name}.*") if not p.is_symlink())
            if found:
                return found[0]
            raise ValueError(f"no uploaded image has the id {name!r}; POST /images first and "
                             f"use the 'id' it returns")
        if SAMPLE_NAME.fullmatch(name) and name in self.samples():
            path = self.samples_dir / name
            # A link placed in the folder could point anywhere (/etc/passwd); the worker
            # refuses it, and so do we: only real files in the folder are samples.
            if path.is_symlink() or not path.is_file():
                raise ValueError(f"sample {name!r} is not a regular file in the samples folder")
            return path
        raise ValueError(f"{name!r} is neither an uploaded image id (img_ + 32 hex digits, from "
                         f"POST /images) nor a sample; the samples are: {', '.join(self.samples())}")
