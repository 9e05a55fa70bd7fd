"""Exercise 1: write two filters of your own and register them with the factory.

Every filter in ``session2_pipeline/filters/`` follows one pattern: a
``BaseFilter`` subclass with a ``name``, declared ``parameters`` (which
``BaseFilter`` checks for you) and an ``apply(image) -> image`` method. Follow it.

Part 1: ``InvertFilter.apply``: a photo negative. Every colour value ``v``
        becomes ``255 - v``. Images with transparency ("RGBA", "LA") keep their
        alpha band unchanged: inverting it would turn an opaque picture invisible.
Part 2: ``SepiaFilter(strength)``: brown old-photo tones. Declare the parameter
        ``strength`` with the range 0 to 1 so that a bad value raises
        ``FilterParameterError``; in ``apply``, turn the image into sepia with
        ``SEPIA_MATRIX`` and mix it with the original: strength 0 changes
        nothing, 1 is full sepia. Keep the alpha band if there is one.
Part 3: ``register_filters()``: make both filters known to ``FilterFactory``, so
        that the specs "invert" and "sepia:strength=0.5" work everywhere,
        including in task queues later on.

Check your work:  pytest session2_pipeline/exercises/test_ex1_new_filter.py
"""

from __future__ import annotations

from PIL import Image, ImageOps  # noqa: F401  (Pillow's ready-made operations live in ImageOps)

from session2_pipeline.core import register_filter  # noqa: F401
from session2_pipeline.filters import BaseFilter, Parameter  # noqa: F401

# The classic sepia matrix: each output channel (a row) is a mix of the input R, G and B.
# Pillow can apply a colour matrix of this form while it converts an image's mode: find
# how in the documentation of Image.convert. (The fourth number of each row is an offset,
# unused here.)
SEPIA_MATRIX = (
    0.393, 0.769, 0.189, 0,
    0.349, 0.686, 0.168, 0,
    0.272, 0.534, 0.131, 0,
)


class InvertFilter(BaseFilter):
    """A photo negative: every colour value v becomes 255 - v; transparency is kept."""

    name = "invert"

    def apply(self, image: Image.Image) -> Image.Image:
        # TODO (part 1): a new image, the negative of this one, for modes L, RGB, LA and
        # RGBA. Rule: colours are inverted, transparency is not, and the input is untouched.
        raise NotImplementedError(
            "Exercise 1, part 1: return the negative of the image, keeping its alpha band "
            "(hint: make hint SESSION=2 EXERCISE=1)")


class SepiaFilter(BaseFilter):
    """Old-photo brown tones; ``strength`` 0 leaves the image as it is, 1 is full sepia."""

    name = "sepia"
    # TODO (part 2): say which parameter this filter takes and its range (0 to 1), the way
    # the filters in session2_pipeline/filters/ do, so a bad value is refused for you.

    def __init__(self, strength: float = 1.0) -> None:
        # TODO (part 2): a filter never checks its own parameters: BaseFilter does it, from
        # what the class declares. How do the filters in session2_pipeline/filters/ hand
        # their values over?
        raise NotImplementedError(
            "Exercise 1, part 2: take a strength from 0 to 1, refusing anything else "
            "(hint: make hint SESSION=2 EXERCISE=1)")

    def apply(self, image: Image.Image) -> Image.Image:
        # TODO (part 2): strength 0 gives the image back unchanged, 1 gives full sepia
        # (SEPIA_MATRIX), anything between is that much of the way; alpha is kept.
        raise NotImplementedError(
            "Exercise 1, part 2: tone the image towards sepia as far as its strength says, "
            "keeping its alpha band (hint: make hint SESSION=2 EXERCISE=1)")


def register_filters() -> None:
    """Make "invert" and "sepia" known to the filter registry, so FilterFactory finds them."""
    # TODO (part 3): afterwards FilterFactory.create("invert") and the spec
    # "sepia:strength=0.5" work anywhere; calling this twice does no harm.
    raise NotImplementedError(
        "Exercise 1, part 3: make both filters known to FilterFactory "
        "(hint: make hint SESSION=2 EXERCISE=1)")
