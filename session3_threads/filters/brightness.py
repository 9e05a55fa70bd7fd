"""Brightness: multiply every colour value by a factor."""

from __future__ import annotations

from PIL import Image, ImageEnhance

from ..core.registry import register_filter
from .base import BaseFilter, Parameter


@register_filter
class BrightnessFilter(BaseFilter):
    """Make the image lighter (``factor`` > 1) or darker (< 1); 0 gives black.

    Values are clipped at 255, so a factor of 2 turns 100 into 200 but 200 into
    255. Transparency (alpha) is kept as it is.
    """

    name = "brightness"
    parameters = (Parameter("factor", 0.0, 10.0),)

    def __init__(self, factor: float = 1.2) -> None:
        super().__init__(factor=factor)

    def apply(self, image: Image.Image) -> Image.Image:
        # ImageEnhance blends with a black image (Image.blend). Unlike the blur and
        # edge filters, that C code keeps the GIL, so threads do not speed it up.
        return ImageEnhance.Brightness(image).enhance(self.params["factor"])
