"""Sample images for demos, tests and benchmarks: session 2's ``core/samples.py``.

The sessions carry that module in their ``core/``; the workshop's tools import
it from here.
"""

from session2_pipeline.core.samples import (
    SAMPLE_SIZES,
    generated_image,
    make_sample_images,
    sample_photo,
)

__all__ = ["SAMPLE_SIZES", "generated_image", "make_sample_images", "sample_photo"]
