"""What every filter has in common: a name, checked parameters, and ``apply``.

A filter is a small object that turns one image into another. Keeping it an
object (rather than a bare function) gives it a name and parameters that can be
written down as text, a *spec* such as ``"blur:radius=2.0"``. Specs are what a
task queue carries later on: a worker receives text, not Python objects.

Parameters are checked once, when the filter is created, so a bad value fails
at once with a clear message instead of deep inside Pillow on the 500th image.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from numbers import Real
from typing import Any, ClassVar

from PIL import Image

from ..core.errors import FilterParameterError


@dataclass(frozen=True)
class Parameter:
    """A numeric parameter that a filter accepts, with its allowed range (inclusive)."""

    name: str
    minimum: float
    maximum: float

    def allowed(self) -> str:
        return f"{self.minimum:g} to {self.maximum:g}"


class BaseFilter(ABC):
    """Base class of all filters.

    A subclass sets ``name`` (the word used in specs), lists its ``parameters``
    with their ranges, passes their values to ``super().__init__`` and implements
    ``apply``::

        class BlurFilter(BaseFilter):
            name = "blur"
            parameters = (Parameter("radius", 0.0, 50.0),)

            def __init__(self, radius: float = 2.0) -> None:
                super().__init__(radius=radius)

            def apply(self, image):
                return image.filter(ImageFilter.GaussianBlur(self.params["radius"]))
    """

    name: ClassVar[str]
    parameters: ClassVar[tuple[Parameter, ...]] = ()

    def __init__(self, **params: Any) -> None:
        declared = {parameter.name: parameter for parameter in self.parameters}
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise FilterParameterError(
                f"{self.name} filter: unknown parameter {unknown[0]!r}; "
                f"{self.describe_parameters()}")
        self.params: dict[str, Any] = {}
        for parameter in self.parameters:
            if parameter.name not in params:
                raise FilterParameterError(
                    f"{self.name} filter: parameter {parameter.name!r} is missing; "
                    f"give a number from {parameter.allowed()}")
            self.params[parameter.name] = self._checked(parameter, params[parameter.name])

    @classmethod
    def describe_parameters(cls) -> str:
        """The parameters in words, for error messages: "its parameters are: radius (0 to 50)"."""
        if not cls.parameters:
            return "it takes no parameters"
        return "its parameters are: " + ", ".join(
            f"{parameter.name} ({parameter.allowed()})" for parameter in cls.parameters)

    def _checked(self, parameter: Parameter, value: Any) -> float:
        """``value`` as a float, or FilterParameterError saying what is allowed."""
        # bool is a subclass of int, but blur:radius=True is surely a mistake.
        if isinstance(value, bool) or not isinstance(value, Real):
            raise FilterParameterError(
                f"{self.name} filter: {parameter.name} must be a number from "
                f"{parameter.allowed()}, got {value!r} ({type(value).__name__})")
        # NaN fails every comparison, so without this check it would slip through
        # the range test below.
        if not math.isfinite(value) or not parameter.minimum <= value <= parameter.maximum:
            raise FilterParameterError(
                f"{self.name} filter: {parameter.name}={value!r} is out of range; "
                f"allowed: {parameter.allowed()}")
        return float(value)

    @abstractmethod
    def apply(self, image: Image.Image) -> Image.Image:
        """Return a new image; never modify ``image`` in place."""

    def spec(self) -> str:
        """This filter as text, e.g. ``"blur:radius=2.0"``; ``FilterFactory.from_spec`` reads it back."""
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{key}={value!r}" for key, value in self.params.items())

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseFilter):
            return NotImplemented
        return type(self) is type(other) and self.params == other.params


def split_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Separate the alpha band (transparency) from the colour bands, if there is one.

    Filters that should change colours but not transparency use this: detecting
    edges in the alpha band of an opaque image, for example, would make the
    whole picture transparent.
    """
    if image.mode == "RGBA":
        return image.convert("RGB"), image.getchannel("A")
    if image.mode == "LA":
        return image.convert("L"), image.getchannel("A")
    return image, None


def with_alpha(image: Image.Image, alpha: Image.Image | None) -> Image.Image:
    """Put back an alpha band taken off by ``split_alpha`` (no-op for ``None``).

    ``image`` is changed in place, so pass a new image (a filter's result), never
    the caller's input.
    """
    if alpha is not None:
        image.putalpha(alpha)
    return image
