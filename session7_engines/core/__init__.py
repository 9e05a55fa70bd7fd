"""The machinery around the filters: safe image I/O, pipelines, specs, batches.

- ``errors``: ``PipelineInputError`` and its kinds (bad parameter, unknown filter,
  invalid image, unsafe path): input that retrying will not fix.
- ``image_io``: ``load_image`` (refuses non-images and decompression bombs,
  applies EXIF orientation), ``save_image_atomic``, ``resolve_inside``.
- ``pipeline``: ``FilterPipeline``, filters in order, and ``process_file``.
- ``registry``: ``register_filter``, the table of filter classes by name that
  the filters fill (``core`` never imports ``filters``; the session package does).
- ``factory``: ``FilterFactory`` (builds from the registry; specs such as
  "blur:radius=2") and ``default_pipeline``.
- ``batch``: ``BatchProcessor``, a folder of images with progress and a report.
- ``samples``: sample images to work on, and ``OUTPUT_DIR`` where runs write.
"""

from .batch import BatchProcessor, BatchReport, ImageOutcome
from .errors import (
    FilterParameterError,
    InvalidImageError,
    PipelineInputError,
    UnknownFilterError,
    UnsafePathError,
)
from .factory import DEFAULT_PIPELINE_SPECS, FilterFactory, default_pipeline, parse_spec
from .image_io import MAX_PIXELS, load_image, resolve_inside, save_image_atomic
from .pipeline import FilterPipeline
from .registry import register_filter

__all__ = [
    "DEFAULT_PIPELINE_SPECS",
    "MAX_PIXELS",
    "BatchProcessor",
    "BatchReport",
    "FilterFactory",
    "FilterParameterError",
    "FilterPipeline",
    "ImageOutcome",
    "InvalidImageError",
    "PipelineInputError",
    "UnknownFilterError",
    "UnsafePathError",
    "default_pipeline",
    "load_image",
    "parse_spec",
    "register_filter",
    "resolve_inside",
    "save_image_atomic",
]
