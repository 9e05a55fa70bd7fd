"""Edge detection: bright where neighbouring pixels differ, black where they agree."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFilter

from ..core.registry import register_filter
from .base import BaseFilter, split_alpha, with_alpha


@register_filter
class EdgesFilter(BaseFilter):
    """Find edges with Pillow's 3x3 ``FIND_EDGES`` kernel; a flat image gives all zeros."""

    name = "edges"

    def apply(self, image: Image.Image) -> Image.Image:
        # Edges of the alpha band of an opaque image are all zero, which would make
        # the result fully transparent: filter the colours only.
        colours, alpha = split_alpha(image)
        edges = colours.filter(ImageFilter.FIND_EDGES)
        # A 3x3 kernel has no neighbours for the outermost pixels, and Pillow copies
        # them from the input unchanged. Without this line every result would have
        # a one-pixel frame of the original image around the edge map.
        ImageDraw.Draw(edges).rectangle((0, 0, edges.width - 1, edges.height - 1), outline=0)
        return with_alpha(edges, alpha)
