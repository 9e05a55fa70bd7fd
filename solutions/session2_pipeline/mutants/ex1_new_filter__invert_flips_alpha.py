"""Mistake: InvertFilter inverts the alpha band too, so opaque pictures become invisible.

Rejected by:
    test_ex1_new_filter.py::TestPart1_Invert::test_alpha_is_kept
"""

from __future__ import annotations

from PIL import Image

from session2_pipeline.core import register_filter
from session2_pipeline.filters import BaseFilter, Parameter

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
        # Every band, alpha included, becomes 255 - v.
        return Image.eval(image, lambda value: 255 - value)


class SepiaFilter(BaseFilter):
    """Old-photo brown tones; ``strength`` 0 leaves the image as it is, 1 is full sepia."""

    name = "sepia"
    parameters = (Parameter("strength", 0.0, 1.0),)

    def __init__(self, strength: float = 1.0) -> None:
        super().__init__(strength=strength)

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
