"""Reading and writing images safely.

Images come from outside, so every read assumes the file may be wrong: missing,
empty, not an image at all, cut off half-way, or a "decompression bomb" (a few
kilobytes that claim to be a 50000 x 50000 image and would eat gigabytes of
memory once decoded). Each of these becomes an ``InvalidImageError`` that names
the file and says what was found.

Every write goes to a temporary file that is renamed over the target at the
end. A rename within one folder is atomic: anyone looking at ``out.jpg`` sees
either the old file or the complete new one, never half an image, even if the
process is killed mid-write. That also makes a task that runs twice harmless.
"""

from __future__ import annotations

import os
import struct
import uuid
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InvalidImageError, PipelineInputError, UnsafePathError

# The most pixels we agree to decode: 40 megapixels is a large photo (RGB: 120 MB
# of memory). Pillow has its own, higher limit, Image.MAX_IMAGE_PIXELS (about 89
# million): above it Pillow prints a DecompressionBombWarning, above twice it it
# raises DecompressionBombError. Both become InvalidImageError here: the error by
# the except clause in load_image, the warning because any image that triggers it
# is also over our lower limit.
MAX_PIXELS = 40_000_000

# Modes the filters work with. Others (palette, 1-bit, 16-bit, CMYK...) are
# converted by ``normalize_mode`` when an image is loaded.
FILTERABLE_MODES = ("L", "LA", "RGB", "RGBA")

# Output formats that cannot store transparency, and the modes they accept.
_NO_ALPHA_FORMATS = {"JPEG": ("L", "RGB", "CMYK"), "BMP": ("1", "L", "P", "RGB")}


def load_image(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Read an image file completely, or raise ``InvalidImageError`` saying why not.

    The size is checked against ``max_pixels`` *before* the pixels are decoded.
    The EXIF orientation is applied (phones store portraits sideways plus a tag),
    and the mode is made one of ``FILTERABLE_MODES``. The file is closed on return.
    """
    path = Path(path)
    if not path.is_file():
        found = "a folder" if path.is_dir() else "nothing"
        raise InvalidImageError(f"cannot read image {path}: expected a file, found {found}")
    if path.stat().st_size == 0:
        raise InvalidImageError(f"cannot read image {path}: the file is empty (0 bytes)")
    try:
        # Image.open reads only the header: size and format, no pixels yet.
        with Image.open(path) as opened:
            width, height = opened.size
            if width * height > max_pixels:
                raise InvalidImageError(
                    f"refusing image {path}: {width}x{height} = {width * height:,} pixels is "
                    f"more than the limit of {max_pixels:,} (max_pixels); a decompression "
                    f"bomb, or simply too large: scale it down first")
            opened.load()  # decodes everything: a truncated or corrupt file fails here
            image = ImageOps.exif_transpose(opened)
    except InvalidImageError:
        raise  # our own size check above; it is a ValueError, so let it pass first
    except UnidentifiedImageError:
        raise InvalidImageError(
            f"cannot read image {path}: not an image Pillow recognises; "
            f"the file starts with {_first_bytes(path)}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own limit, reached first when it is below max_pixels. The warning
        # is raised (not printed) only when warnings are errors (python -W error).
        raise InvalidImageError(
            f"refusing image {path}: {error} (Pillow's limit, PIL.Image.MAX_IMAGE_PIXELS)"
        ) from None
    # Decoders report damage with several exception types: OSError ("image file
    # is truncated"), SyntaxError (bad header), struct.error, EOFError...
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
        raise InvalidImageError(
            f"cannot read image {path}: the file is damaged or truncated "
            f"({type(error).__name__}: {error})") from None
    return normalize_mode(image)


def normalize_mode(image: Image.Image) -> Image.Image:
    """``image`` in one of ``FILTERABLE_MODES`` (unchanged if it already is)."""
    if image.mode in FILTERABLE_MODES:
        return image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        # 16-bit grayscale: scale 0..65535 down to 0..255 (convert("L") would clip).
        return image.convert("I").point(lambda value: value / 256).convert("L")
    if image.mode in ("1", "F"):
        return image.convert("L")
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _first_bytes(path: Path, count: int = 16) -> str:
    """The start of a file, for messages: b'Hello, this is' says "text" at a glance."""
    with open(path, "rb") as file:
        return repr(file.read(count))


def save_image_atomic(image: Image.Image, path: str | Path, *, format: str | None = None) -> Path:
    """Write ``image`` to ``path`` through a temporary file and an atomic rename.

    The format comes from ``format`` or else from the extension (``.png``,
    ``.jpg``...). Modes the format cannot store are converted: a transparent
    image saved as JPEG is flattened onto white. The folder is created if needed.
    Returns ``path``.
    """
    path = Path(path)
    format = (format or _format_for(path)).upper()
    image = _convertible_for(image, format)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the target (a rename across file systems is not atomic), a
    # name no other process or thread will pick, and a leading dot so that folder
    # listings and the batch processor skip it.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "xb") as file:
            options = {"quality": 90} if format in ("JPEG", "WEBP") else {}
            image.save(file, format=format, **options)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def remove_debris(path: Path) -> list[Path]:
    """Delete the temporary files an earlier write of ``path`` left behind; which ones.

    A write cut short by SIGKILL (a worker killed mid-task) cannot run its clean-up
    and leaves ``.NAME.PID.HEX.tmp`` next to the output. A retry of that task (the
    only writer that can know an earlier attempt was cut short) calls this before it
    writes, and removes those whose process is gone: a listing of the folder, paid by
    retries only, not by every write. A file of a live process is
    left alone: that writer (a worker taken for dead, still running) may be about
    to rename it. One pass over the folder's names, small next to an image write.
    """
    prefix, debris = f".{path.name}.", []
    with os.scandir(path.parent) as entries:
        for entry in entries:
            if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")):
                continue
            pid = entry.name[len(prefix):].split(".")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
                Path(entry.path).unlink(missing_ok=True)
                debris.append(Path(entry.path))
    return debris


def _process_alive(pid: int) -> bool:
    """Is there a process with this id on this machine? (signal 0 checks without sending)"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (another user's), or we cannot tell: keep its file
    return True


def _format_for(path: Path) -> str:
    """The Pillow format name for the extension of ``path``, e.g. ``.jpg`` -> ``JPEG``."""
    extensions = Image.registered_extensions()  # {".jpg": "JPEG", ".png": "PNG", ...}
    format = extensions.get(path.suffix.lower())
    if format is None or format not in Image.SAVE:
        raise PipelineInputError(
            f"cannot save {path}: no image format is known for the extension "
            f"{path.suffix!r}; use one of .jpg, .png, .webp, .bmp, .tiff")
    return format


def _convertible_for(image: Image.Image, format: str) -> Image.Image:
    """``image`` in a mode that ``format`` can store."""
    accepted = _NO_ALPHA_FORMATS.get(format)
    if accepted is None or image.mode in accepted:
        return image
    if "A" in image.getbands():
        # No transparency in this format: flatten onto a white background
        # (a plain convert("RGB") would turn transparent areas black).
        background = Image.new("RGBA", image.size, "white")
        background.alpha_composite(image.convert("RGBA"))
        return background.convert("L" if image.mode == "LA" else "RGB")
    return image.convert("RGB")


def resolve_inside(path: str | Path, root: str | Path) -> Path:
    """The absolute form of ``path`` (relative to ``root``), or ``UnsafePathError``.

    ``path`` must end up inside ``root`` after ``..`` and symbolic links are
    resolved: ``"a/b.jpg"`` is fine, ``"../b.jpg"``, ``"/etc/passwd"`` and a link
    that points out of ``root`` are not. This is what stops a task such as
    ``{"output_path": "../../home/you/.bashrc"}`` from writing anywhere it likes.
    """
    root_resolved = Path(root).resolve()
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root_resolved / candidate
    resolved = candidate.resolve()
    if resolved != root_resolved and root_resolved not in resolved.parents:
        raise UnsafePathError(
            f"refusing path {str(path)!r}: it resolves to {resolved}, outside the folder "
            f"{root_resolved}; give a path inside that folder (no '..', no absolute path "
            f"elsewhere)")
    return resolved
