"""Mistake: SepiaFilter stores strength without declaring it, so bad values are never checked.

Rejected by:
    test_ex1_new_filter.py::TestPart2_Sepia::test_bad_strength_is_refused_with_a_clear_message
"""

from __future__ import annotations

from PIL import Image, ImageOps

from session2_pipeline.core import register_filter
from session2_pipeline.filters import BaseFilter

# The classic sepia matrix: each output channel is a mix of the input R, G, B.
# (The fourth number of each row is an offset, unused here.)
SEPIA_MATRIX = (
    0.393, 0.769, 0.189, 0,
    0.349, 0.686, 0.168, 0,
    0.272, 0.534, 0.131, 0,
)


class InvertFilter(BaseFilter):
    """A photo negative: every colour value v becomes 255 - v; transparency is kept."""

    name = "invert"

    def apply(self, image: Image.Image) -> Image.Image:
        if image.mode in ("RGBA", "LA"):
            colours = image.convert(image.mode[:-1])  # "RGBA" -> "RGB", "LA" -> "L"
            inverted = ImageOps.invert(colours)
            inverted.putalpha(image.getchannel("A"))
            return inverted
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        return ImageOps.invert(image)


class SepiaFilter(BaseFilter):
    """Old-photo brown tones; ``strength`` 0 leaves the image as it is, 1 is full sepia."""

    name = "sepia"

    def __init__(self, strength: float = 1.0) -> None:
        super().__init__()
        self.params["strength"] = strength  # stored, but never checked

    def apply(self, image: Image.Image) -> Image.Image:
        alpha = image.getchannel("A") if "A" in image.getbands() else None
        original = image.convert("RGB")
        sepia = original.convert("RGB", SEPIA_MATRIX)
        result = Image.blend(original, sepia, self.params["strength"])
        if alpha is not None:
            result.putalpha(alpha)
        return result


def register_filters() -> None:
    """Make "invert" and "sepia" known to the filter registry, so FilterFactory finds them."""
    register_filter(InvertFilter)
    register_filter(SepiaFilter)
