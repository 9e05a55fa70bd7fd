"""Session 2: the work itself, an image-filter pipeline with Pillow.

Before we can queue work we need work worth queueing. This session builds it:
filters (``filters/``), pipelines built from text specs, safe image reading and
writing, and a batch processor that runs everything in one loop, the baseline
that the threads of session 3 and the worker processes of session 4 improve on.

    from session2_pipeline import FilterFactory
    pipeline = FilterFactory.pipeline("blur:radius=2|grayscale")
    pipeline.process_file("in.jpg", "out.png")
"""

# Importing .filters adds the built-in filters to core's registry (core never imports filters).
from .core import (
    BatchProcessor,
    BatchReport,
    FilterFactory,
    FilterPipeline,
    ImageOutcome,
    default_pipeline,
    load_image,
    register_filter,
    save_image_atomic,
)
from .filters import BaseFilter, BlurFilter, BrightnessFilter, EdgesFilter, GrayscaleFilter

__all__ = [
    "BaseFilter",
    "BatchProcessor",
    "BatchReport",
    "BlurFilter",
    "BrightnessFilter",
    "EdgesFilter",
    "FilterFactory",
    "FilterPipeline",
    "GrayscaleFilter",
    "ImageOutcome",
    "default_pipeline",
    "load_image",
    "register_filter",
    "save_image_atomic",
]
