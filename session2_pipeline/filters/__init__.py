"""Image filters: small objects that turn one image into another.

Every filter derives from ``BaseFilter``: it has a ``name`` used in text specs
("blur:radius=2.0"), checks its parameters when it is created, and implements
``apply(image) -> image``. The built-in filters add themselves to the registry
in ``core`` (``core/registry.py``) when this package is imported, so a spec can
name them; the session package imports this package for that reason.

To add a filter: write a ``BaseFilter`` subclass in its own module, decorate it
with ``@register_filter`` and import the module here.
"""

from .base import BaseFilter, Parameter
from .blur import BlurFilter
from .brightness import BrightnessFilter
from .edges import EdgesFilter
from .grayscale import GrayscaleFilter

__all__ = [
    "BaseFilter",
    "BlurFilter",
    "BrightnessFilter",
    "EdgesFilter",
    "GrayscaleFilter",
    "Parameter",
]
