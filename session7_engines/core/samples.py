"""Sample images to run the pipeline on, and the folder where runs write.

The images are made locally (nothing is downloaded): the real photo is the
portrait of Grace Hopper that matplotlib ships with its sample data; the rest are
generated (gradients and shapes) in several sizes, so a batch has small and large
work and tests can reason about exact pixels.

Every session carries this module in its ``core/``, so command lines and
workloads find samples and ``OUTPUT_DIR`` without importing the workshop's tools.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

# The repository's git-ignored output folder (core/ -> session folder -> repository).
# A learner's runs write here, never over tracked files.
OUTPUT_DIR = Path(__file__).resolve().parents[2] / "output"

# (width, height) of the generated images, cycled through by make_sample_images.
SAMPLE_SIZES: tuple[tuple[int, int], ...] = ((320, 240), (640, 480), (800, 600), (1024, 768))


def sample_photo() -> Path:
    """Path of a real JPEG photo that is installed with matplotlib."""
    from matplotlib import cbook

    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def generated_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """A colourful RGB test image: a gradient with a few shapes, different per seed."""
    # Red grows left to right, green top to bottom, blue is constant per seed.
    horizontal = Image.linear_gradient("L").rotate(90).resize((width, height))
    vertical = Image.linear_gradient("L").resize((width, height))
    blue = Image.new("L", (width, height), (seed * 53) % 256)
    image = Image.merge("RGB", (horizontal, vertical, blue))
    draw = ImageDraw.Draw(image)
    for i in range(3):
        left = (seed * 37 + i * width // 4) % max(1, width // 2)
        top = (seed * 23 + i * height // 5) % max(1, height // 2)
        box = (left, top, left + width // 3, top + height // 3)
        colour = ((seed + i) * 80 % 256, (seed * 3 + i) * 60 % 256, 255 - i * 70)
        (draw.ellipse if i % 2 else draw.rectangle)(box, fill=colour, outline=(0, 0, 0))
    return image


def make_sample_images(folder: str | Path, count: int = 12, *, include_photo: bool = True,
                       sizes: tuple[tuple[int, int], ...] = SAMPLE_SIZES) -> list[Path]:
    """Write ``count`` JPEGs into ``folder`` (created if needed) and return their paths.

    The first is the real photo when ``include_photo`` is true; the others are
    generated in ``sizes`` (cycled through; ``SAMPLE_SIZES`` unless told). Existing
    files are reused, so calling this twice is cheap.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for index in range(count):
        if include_photo and index == 0:
            path = folder / "photo_grace_hopper.jpg"
            if not path.exists():
                Image.open(sample_photo()).convert("RGB").save(path, quality=90)
        else:
            width, height = sizes[index % len(sizes)]
            path = folder / f"sample_{index:02d}_{width}x{height}.jpg"
            if not path.exists():
                generated_image(width, height, seed=index).save(path, quality=90)
        paths.append(path)
    return paths
