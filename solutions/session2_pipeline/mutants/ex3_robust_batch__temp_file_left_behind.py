"""Mistake: when saving fails, the temporary file is left in the output folder.

Rejected by:
    test_ex3_robust_batch.py::TestPart1_WriteAtomically::test_a_failed_save_keeps_the_old_file_and_leaves_nothing_behind
"""

from __future__ import annotations

import os
import uuid
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
    path = Path(path)
    # The temporary name ends in .tmp, which tells Pillow nothing: take the format
    # from the real name.
    image_format = Image.registered_extensions()[path.suffix.lower()]
    # Same folder as the target: a rename is only atomic within one file system.
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    image.save(temporary, format=image_format)
    os.replace(temporary, path)
    return path


def process_image(pipeline: FilterPipeline, input_path: str | Path,
                  output_dir: str | Path) -> Path:
    """Load, filter and write one image into ``output_dir`` under the same name."""
    input_path = Path(input_path)
    result = pipeline.apply(load_image(input_path))
    return write_atomically(result, Path(output_dir) / input_path.name)


def run_batch(pipeline: FilterPipeline, inputs: Iterable[str | Path],
              output_dir: str | Path) -> BatchResult:
    """Process every input; a failure is recorded and the loop goes on."""
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    result = BatchResult()
    for path in inputs:
        try:
            result.processed.append(process_image(pipeline, path, output_dir))
        except Exception as error:  # one bad image costs that image only
            result.errors[str(path)] = f"{type(error).__name__}: {error}"
    return result
