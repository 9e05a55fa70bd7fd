"""Gaussian blur: every pixel becomes a weighted average of its neighbours."""

from __future__ import annotations

from PIL import Image, ImageFilter

from ..core.registry import register_filter
from .base import BaseFilter, Parameter


@register_filter
class BlurFilter(BaseFilter):
    """Soften the image; ``radius`` is the blur's standard deviation in pixels.

    ``radius=0`` leaves the image as it is. The cost grows with the image size,
    much less with the radius (Pillow approximates the Gaussian with box blurs).
    """

    name = "blur"
    parameters = (Parameter("radius", 0.0, 50.0),)

    def __init__(self, radius: float = 2.0) -> None:
        super().__init__(radius=radius)

    def apply(self, image: Image.Image) -> Image.Image:
        # Pillow blurs in C and releases the GIL while it does, so several
        # threads can blur different images at the same time.
        return image.filter(ImageFilter.GaussianBlur(self.params["radius"]))
