"""Exercise 2: read pipeline specs such as "blur:radius=2|grayscale".

A task in a queue is JSON text, so the filters it asks for travel as text too.
Turning that text back into typed values, with errors that say exactly what was
wrong, is the job of a parser. Write a small one.

Part 1: ``parse_value(text)``: "2" -> 2 (int), "2.5" -> 2.5 (float),
        "true"/"false" in any case -> True/False, anything else -> the text
        itself. Spaces around the text do not count.
Part 2: ``parse_spec(spec)``: "blur:radius=2" -> ("blur", {"radius": 2});
        "grayscale" -> ("grayscale", {}); several parameters are separated by
        commas: "x:a=1,b=2". Raise ``SpecError`` when the name is missing, a
        parameter is not key=value, or a key appears twice; put the spec in the
        message.
Part 3: ``parse_pipeline(text)``: split on "|" and parse every step:
        "blur:radius=2|grayscale" -> [("blur", {"radius": 2}), ("grayscale", {})].
        An empty step ("blur||grayscale") is a ``SpecError`` whose message says
        which step ("step 2"). ``build_pipeline`` then works: it is written for you.

Check your work:  pytest session2_pipeline/exercises/test_ex2_parse_specs.py
"""

from __future__ import annotations

from typing import Any

from session2_pipeline.core import FilterFactory, FilterPipeline


class SpecError(ValueError):
    """A spec that cannot be read; the message quotes it and shows the right form."""


def parse_value(text: str) -> int | float | bool | str:
    """ "2" -> 2, "2.5" -> 2.5, "true"/"false" (any case) -> True/False, else the text."""
    # TODO (part 1): the most specific type the text really is, tried from the narrowest;
    # text that is none of them is not an error, it stays text. Careful: any non-empty
    # string is "true" to Python.
    raise NotImplementedError(
        "Exercise 2, part 1: turn the text into an int, float or bool when it is one "
        "(hint: make hint SESSION=2 EXERCISE=2)")


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """ "blur:radius=2" -> ("blur", {"radius": 2}); "grayscale" -> ("grayscale", {})."""
    # TODO (part 2): the name is before the first ":", the parameters after it. Rule: a
    # spec that cannot be read is refused with a SpecError quoting it, never guessed at
    # (no name, a parameter without "=", a key given twice).
    raise NotImplementedError(
        "Exercise 2, part 2: split the name from the key=value parameters "
        "(hint: make hint SESSION=2 EXERCISE=2)")


def parse_pipeline(text: str) -> list[tuple[str, dict[str, Any]]]:
    """ "blur:radius=2|grayscale" -> [("blur", {"radius": 2}), ("grayscale", {})]."""
    # TODO (part 3): one entry per step, in order. Rule: an empty step is reported (it
    # probably lost a filter), not skipped, and the message says which step it was.
    raise NotImplementedError(
        "Exercise 2, part 3: split on '|' and parse each step; an empty step is an error "
        "(hint: make hint SESSION=2 EXERCISE=2)")


def build_pipeline(text: str) -> FilterPipeline:
    """A FilterPipeline from a spec string, using parse_pipeline (already written for you)."""
    return FilterPipeline(FilterFactory.create(name, **params)
                          for name, params in parse_pipeline(text))
