"""Build filters and pipelines from names and text specs.

A spec is a filter written as text, the form a task carries through a queue::

    "grayscale"                      a filter without parameters
    "blur:radius=2"                  name, colon, parameters
    "brightness:factor=1.5"
    "blur:radius=2|edges|grayscale"  a whole pipeline, steps separated by "|"

Filters are found by name in one registry (``registry.py``). A filter class
joins it with the ``@register_filter`` decorator; nothing else needs to change.
The factory only reads the registry, so it never imports the filters.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import FilterParameterError, PipelineInputError, UnknownFilterError
from .pipeline import FilterPipeline
from .registry import registered, registered_names

if TYPE_CHECKING:  # type hints only, never imported at run time
    from ..filters.base import BaseFilter

# The workers' pipeline when a task names no filters. Blur, edges and grayscale
# run in Pillow's C code with the GIL released, so threads can run them in parallel.
DEFAULT_PIPELINE_SPECS = ("blur:radius=2", "edges", "grayscale")


class FilterFactory:
    """Ways to build filters and pipelines from the registered filter classes."""

    @classmethod
    def available(cls) -> list[str]:
        """The registered filter names, sorted."""
        return registered_names()

    @classmethod
    def create(cls, name: str, **params: Any) -> BaseFilter:
        """A new filter by name: ``create("blur", radius=2)``."""
        filter_class = registered(name)
        if filter_class is None:
            raise UnknownFilterError(_unknown_name_message(name, cls.available()))
        # Check the keyword names against the constructor first, so that
        # create("blur", sigma=2) is a FilterParameterError, not a TypeError.
        try:
            inspect.signature(filter_class).bind(**params)
        except TypeError as error:
            raise FilterParameterError(
                f"{name} filter: {error}; {filter_class.describe_parameters()}") from None
        return filter_class(**params)

    @classmethod
    def from_spec(cls, spec: str) -> BaseFilter:
        """A filter from its spec: ``from_spec("blur:radius=2")``; see ``parse_spec``."""
        name, params = parse_spec(spec)
        return cls.create(name, **params)

    @classmethod
    def pipeline(cls, specs: str | Sequence[str]) -> FilterPipeline:
        """A pipeline from ``"blur:radius=2|grayscale"`` or ``["blur:radius=2", "grayscale"]``.

        An empty list gives an empty pipeline (it copies the image). Errors say
        which step was wrong.
        """
        if isinstance(specs, str):
            steps = specs.split("|")
        elif isinstance(specs, Sequence):
            steps = list(specs)
        else:
            raise TypeError(
                f"FilterFactory.pipeline() expects a string like 'blur:radius=2|grayscale' "
                f"or a list of specs, got {specs!r}")
        pipeline = FilterPipeline()
        for number, step in enumerate(steps, start=1):
            try:
                pipeline.add(cls.from_spec(step))
            except PipelineInputError as error:
                # Same error class (a worker may decide on it), plus where it happened.
                raise type(error)(f"step {number} of {specs!r}: {error}") from None
        return pipeline


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"blur:radius=2"`` into ``("blur", {"radius": 2})``.

    Values become ``int``, ``float`` or ``bool`` (``true``/``false``) when they
    look like one, else stay strings (the filter then says what it expected).
    Spaces around names and values are ignored; the name is lower-cased.
    """
    if not isinstance(spec, str):
        raise TypeError(f"a filter spec is a string such as 'blur:radius=2', got {spec!r}")
    name, _, params_text = spec.partition(":")
    name = name.strip().lower()
    if not name:
        raise UnknownFilterError(
            f"filter spec {spec!r} has no filter name; expected 'name' or "
            f"'name:param=value,param=value', e.g. 'blur:radius=2'")
    params: dict[str, Any] = {}
    if not params_text.strip():
        return name, params
    for item in params_text.split(","):
        key, equals, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not key or not value:
            raise FilterParameterError(
                f"filter spec {spec!r}: cannot read {item.strip()!r}; parameters are "
                f"written key=value, separated by commas, e.g. 'blur:radius=2'")
        if key in params:
            raise FilterParameterError(f"filter spec {spec!r}: parameter {key!r} is given twice")
        params[key] = _parse_value(value)
    return name, params


def _parse_value(text: str) -> Any:
    """``"2"`` -> 2, ``"2.5"`` -> 2.5, ``"true"`` -> True, anything else stays a string."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return text


def _unknown_name_message(name: str, valid: list[str]) -> str:
    message = f"unknown filter {name!r}; valid filters: {', '.join(valid)}"
    close = difflib.get_close_matches(name, valid, n=1)
    return message + (f" (did you mean {close[0]!r}?)" if close else "")


def default_pipeline() -> FilterPipeline:
    """The pipeline workers use when a task names none: blur, then edges, then grayscale."""
    return FilterFactory.pipeline(DEFAULT_PIPELINE_SPECS)
