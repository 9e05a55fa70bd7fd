"""Grayscale: one brightness value per pixel instead of red, green and blue."""

from __future__ import annotations

from PIL import Image

from ..core.registry import register_filter
from .base import BaseFilter


@register_filter
class GrayscaleFilter(BaseFilter):
    """Convert to one band ("L") with Pillow's ITU-R 601-2 luma weights.

    ``L = R * 299/1000 + G * 587/1000 + B * 114/1000``: green counts most because
    our eyes are most sensitive to it. An image with transparency becomes "LA"
    (gray plus alpha), so transparent areas stay transparent.
    """

    name = "grayscale"

    def apply(self, image: Image.Image) -> Image.Image:
        # convert() runs in C and releases the GIL.
        return image.convert("LA" if "A" in image.getbands() else "L")
