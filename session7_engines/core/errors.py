"""The errors the pipeline raises for bad input.

They all derive from ``PipelineInputError``, which means "this input is wrong,
and trying again will not fix it". A queue worker uses that to decide:
a network hiccup is worth a retry, a text file named ``photo.jpg`` is not.

Each is also a ``ValueError``, so code that already catches ``ValueError`` for
bad arguments keeps working.
"""

from __future__ import annotations


class PipelineInputError(ValueError):
    """Input that retrying cannot fix: a bad parameter, filter name, image or path."""


class FilterParameterError(PipelineInputError):
    """A filter parameter is missing, unknown, of the wrong type or out of range."""


class UnknownFilterError(PipelineInputError):
    """No filter is registered under this name (the message lists the valid names)."""


class InvalidImageError(PipelineInputError):
    """The file is not a readable image: missing, empty, not an image, truncated, too large."""


class UnsafePathError(PipelineInputError):
    """A path points outside the folder it must stay in (for example through ``..``)."""
