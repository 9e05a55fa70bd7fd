"""One real photo through each filter and two pipelines, saved as a contact sheet.

From the repository root:       python session2_pipeline/demos/demo_single_image.py
From inside session2_pipeline:  python demos/demo_single_image.py

Prints how long each step took on the full-size photo and where the contact
sheet (one labelled tile per step, side by side) was saved. Open it with any
image viewer.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from session2_pipeline.core import (
    DEFAULT_PIPELINE_SPECS,
    FilterFactory,
    FilterPipeline,
    load_image,
    save_image_atomic,
)
from workshop.images import sample_photo
from workshop.paths import OUTPUT_DIR

# (label, pipeline spec). The empty spec is the original, unfiltered.
STEPS: list[tuple[str, str]] = [
    ("original", ""),
    ("blur", "blur:radius=4"),
    ("brightness", "brightness:factor=1.6"),
    ("edges", "edges"),
    ("grayscale", "grayscale"),
    ("default pipeline", "|".join(DEFAULT_PIPELINE_SPECS)),
    ("pipeline: visible edges", "grayscale|edges|brightness:factor=4"),
]

TILE_WIDTH = 256
LABEL_HEIGHT = 44
COLUMNS = 4


def contact_sheet(tiles: list[tuple[str, str, Image.Image]], caption: str) -> Image.Image:
    """Thumbnails in a grid, each with its label and spec underneath."""
    height = max(round(image.height * TILE_WIDTH / image.width) for _, _, image in tiles)
    rows = (len(tiles) + 1 + COLUMNS - 1) // COLUMNS  # +1: a cell for the caption
    sheet = Image.new("RGB", (COLUMNS * TILE_WIDTH, rows * (height + LABEL_HEIGHT)), "white")
    draw = ImageDraw.Draw(sheet)
    font = _font(15)
    small = _font(12)
    for index, (label, spec, image) in enumerate(tiles):
        left = (index % COLUMNS) * TILE_WIDTH
        top = (index // COLUMNS) * (height + LABEL_HEIGHT)
        thumbnail = image.convert("RGB")
        thumbnail.thumbnail((TILE_WIDTH, height))
        sheet.paste(thumbnail, (left, top))
        draw.text((left + 6, top + height + 4), label, fill="black", font=font)
        draw.text((left + 6, top + height + 24), spec or "(no filter)", fill="dimgray", font=small)
    index = len(tiles)
    left, top = (index % COLUMNS) * TILE_WIDTH, (index // COLUMNS) * (height + LABEL_HEIGHT)
    draw.multiline_text((left + 10, top + 10), caption, fill="black", font=small, spacing=6)
    return sheet


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow 10.1+: a scalable font
    except TypeError:
        return ImageFont.load_default()


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR / "session2",
                        help="folder for contact_sheet.png (default: %(default)s)")
    args = parser.parse_args(argv)

    photo_path = sample_photo()
    photo = load_image(photo_path)
    print(f"Photo: {photo_path.name} ({photo.width}x{photo.height}, {photo.mode})\n")
    print(f"  {'step':<26}{'pipeline':<44}{'time':>9}")
    tiles = []
    for label, spec in STEPS:
        pipeline = FilterFactory.pipeline(spec) if spec else FilterPipeline()
        started = time.perf_counter()
        result = pipeline.apply(photo)
        milliseconds = (time.perf_counter() - started) * 1000
        shown = " | ".join(pipeline.specs()) or "(none)"
        print(f"  {label:<26}{shown:<44}{milliseconds:>6.1f} ms   -> {result.mode}")
        tiles.append((label, " | ".join(pipeline.specs()), result))

    caption = (f"{photo_path.name}\n{photo.width}x{photo.height} pixels\n\n"
               "Specs are text: a task in a\nqueue carries them, a worker\n"
               "turns them into filters.")
    sheet_path = save_image_atomic(contact_sheet(tiles, caption),
                                   args.output / "contact_sheet.png")
    print(f"\nContact sheet ({len(tiles)} tiles): {sheet_path}")
    print("Open it with any image viewer.")
    return sheet_path


if __name__ == "__main__":
    main()
