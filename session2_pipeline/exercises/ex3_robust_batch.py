"""Exercise 3: a batch loop that survives bad images and never leaves half a file.

Real folders contain surprises: a text file called ``photo.jpg``, a download
that stopped half-way, a file that vanished. A batch of 10 000 images must not
die on image 17, and a crash (or a full disk) in the middle of writing must not
leave a broken ``out.jpg`` that looks finished.

Part 1: ``write_atomically(image, path)``: save to a temporary file in the same
        folder as ``path``, then rename it over ``path`` with ``os.replace``.
        If anything fails, delete the temporary file and let the error
        propagate; the old ``path`` (if any) must stay untouched. Return ``path``.
Part 2: ``run_batch(pipeline, inputs, output_dir)``: call ``process_image`` (given)
        for every input. When one fails, record ``errors[str(path)]`` as a
        message ("InvalidImageError: ...") and go on with the next input.
        Create ``output_dir`` if needed. Return a ``BatchResult``.

Check your work:  pytest session2_pipeline/exercises/test_ex3_robust_batch.py
"""

from __future__ import annotations

import os  # noqa: F401  (os.replace)
import uuid  # noqa: F401  (unique temporary names)
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from session2_pipeline.core import FilterPipeline, load_image


@dataclass
class BatchResult:
    """Outputs written, in input order, and an error message per failed input path."""

    processed: list[Path] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def write_atomically(image: Image.Image, path: str | Path) -> Path:
    """Save ``image`` to ``path`` so that ``path`` never holds half an image."""
    # TODO (part 1): at every instant `path` is either the old file or the whole new one.
    # Rule: whatever fails, no temporary file is left behind and the error still reaches
    # the caller.
    raise NotImplementedError(
        "Exercise 3, part 1: save to a temporary file next to path, then os.replace it "
        "(hint: make hint SESSION=2 EXERCISE=3)")


def process_image(pipeline: FilterPipeline, input_path: str | Path,
                  output_dir: str | Path) -> Path:
    """Load, filter and write one image into ``output_dir`` under the same name (given)."""
    input_path = Path(input_path)
    result = pipeline.apply(load_image(input_path))
    return write_atomically(result, Path(output_dir) / input_path.name)


def run_batch(pipeline: FilterPipeline, inputs: Iterable[str | Path],
              output_dir: str | Path) -> BatchResult:
    """Process every input; a failure is recorded and the loop goes on."""
    # TODO (part 2): one bad image costs one image, never the batch; each failure is
    # recorded under its input path as "ErrorType: message".
    raise NotImplementedError(
        "Exercise 3, part 2: loop over inputs, catch each failure, record it, go on "
        "(hint: make hint SESSION=2 EXERCISE=3)")
