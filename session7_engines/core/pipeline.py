"""A pipeline: filters applied one after the other, and the file-to-file step.

``process_file`` is the unit of work a task queue hands out later: it takes two
paths (never pixels, which would be expensive to send between processes) and
returns a small JSON-ready summary of what it did.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from .image_io import load_image, normalize_mode, save_image_atomic

if TYPE_CHECKING:  # only for type hints: ..filters imports this package
    from ..filters.base import BaseFilter


class FilterPipeline:
    """An ordered chain of filters: ``FilterPipeline([BlurFilter(2), GrayscaleFilter()])``.

    Pipelines compose with ``+`` and read as their specs::

        >>> FilterPipeline([BlurFilter(radius=2)]) + FilterPipeline([GrayscaleFilter()])
        FilterPipeline(blur:radius=2.0 | grayscale)
    """

    def __init__(self, filters: Iterable[BaseFilter] = ()) -> None:
        self._filters: list[BaseFilter] = []
        for image_filter in filters:
            self.add(image_filter)

    def add(self, f: BaseFilter) -> FilterPipeline:
        """Append a filter and return the pipeline, so calls can be chained."""
        if not (callable(getattr(f, "apply", None)) and callable(getattr(f, "spec", None))):
            raise TypeError(
                f"FilterPipeline.add() expects a filter object such as BlurFilter(radius=2), "
                f"got {f!r}; to add one by name use FilterFactory.create('blur', radius=2)")
        self._filters.append(f)
        return self

    def apply(self, image: Image.Image) -> Image.Image:
        """Run every filter in order and return the result (a new image)."""
        result = normalize_mode(image)
        for image_filter in self._filters:
            result = image_filter.apply(result)
        return result.copy() if result is image else result

    def process_file(self, input_path: str | Path, output_path: str | Path) -> dict[str, Any]:
        """Load, filter and save one image; return what happened as a JSON-ready dict.

        The output format follows the output extension, and the output is
        written atomically. Raises ``InvalidImageError`` for a bad input image.
        """
        started = time.perf_counter()
        image = load_image(input_path)
        result = self.apply(image)
        save_image_atomic(result, output_path)
        return {
            "input_path": str(input_path),
            "output_path": str(output_path),
            "width": result.width,
            "height": result.height,
            "seconds": round(time.perf_counter() - started, 6),
            "filters": self.specs(),
        }

    def specs(self) -> list[str]:
        """The filters as specs, e.g. ``["blur:radius=2.0", "grayscale"]``."""
        return [image_filter.spec() for image_filter in self._filters]

    def __len__(self) -> int:
        return len(self._filters)

    def __iter__(self) -> Iterator[BaseFilter]:
        return iter(self._filters)

    def __add__(self, other: FilterPipeline) -> FilterPipeline:
        """A new pipeline: this one's filters, then ``other``'s. Neither is changed."""
        if not isinstance(other, FilterPipeline):
            return NotImplemented
        return FilterPipeline([*self._filters, *other._filters])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FilterPipeline):
            return NotImplemented
        return self._filters == other._filters

    def __repr__(self) -> str:
        return f"FilterPipeline({' | '.join(self.specs())})"
