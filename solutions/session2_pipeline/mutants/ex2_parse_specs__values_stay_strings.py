"""Mistake: values stay strings, so "radius=2" gives "2" and the filter refuses it.

Rejected by:
    test_ex2_parse_specs.py::TestPart1_Values::test_text_becomes_a_typed_value
    test_ex2_parse_specs.py::TestPart2_Spec::test_name_and_typed_parameters
    test_ex2_parse_specs.py::TestPart3_Pipeline::test_steps_in_order
    test_ex2_parse_specs.py::TestPart3_Pipeline::test_the_built_pipeline_works_on_real_pixels
"""

from __future__ import annotations

from typing import Any

from session2_pipeline.core import FilterFactory, FilterPipeline


class SpecError(ValueError):
    """A spec that cannot be read; the message quotes it and shows the right form."""


def parse_value(text: str) -> int | float | bool | str:
    """ "2" -> 2, "2.5" -> 2.5, "true"/"false" (any case) -> True/False, else the text."""
    return text.strip()


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """ "blur:radius=2" -> ("blur", {"radius": 2}); "grayscale" -> ("grayscale", {})."""
    name, _, params_text = spec.partition(":")
    name = name.strip()
    if not name:
        raise SpecError(f"{spec!r} has no filter name; write 'name' or 'name:key=value'")
    params: dict[str, Any] = {}
    if not params_text.strip():
        return name, params
    for item in params_text.split(","):
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals or not key or not value.strip():
            raise SpecError(f"{spec!r}: cannot read {item.strip()!r}; write key=value, "
                            f"e.g. 'blur:radius=2'")
        if key in params:
            raise SpecError(f"{spec!r}: {key!r} is given twice")
        params[key] = parse_value(value)
    return name, params


def parse_pipeline(text: str) -> list[tuple[str, dict[str, Any]]]:
    """ "blur:radius=2|grayscale" -> [("blur", {"radius": 2}), ("grayscale", {})]."""
    steps = []
    for number, step in enumerate(text.split("|"), start=1):
        if not step.strip():
            raise SpecError(f"step {number} of {text!r} is empty; "
                            f"separate filters with a single '|'")
        try:
            steps.append(parse_spec(step))
        except SpecError as error:
            raise SpecError(f"step {number} of {text!r}: {error}") from None
    return steps


def build_pipeline(text: str) -> FilterPipeline:
    """A FilterPipeline from a spec string, using parse_pipeline (already written for you)."""
    return FilterPipeline(FilterFactory.create(name, **params)
                          for name, params in parse_pipeline(text))
