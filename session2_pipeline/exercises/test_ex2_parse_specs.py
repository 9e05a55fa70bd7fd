"""Tests for exercise 2: parse_value, parse_spec and parse_pipeline."""

from __future__ import annotations

import pytest
from PIL import Image

from workshop.exercises import load_exercise

ex = load_exercise(__file__)  # the learner's file, the solution, or a mutant


class TestPart1_Values:
    @pytest.mark.parametrize("text, expected", [
        ("2", 2), ("-3", -3), (" 7 ", 7),
        ("2.5", 2.5), ("0.1", 0.1), ("1e3", 1000.0),
        ("true", True), ("True", True), ("FALSE", False), ("false", False),
        ("hello", "hello"), (" soft ", "soft"),
    ])
    def test_text_becomes_a_typed_value(self, text, expected):
        value = ex.parse_value(text)
        assert value == expected and type(value) is type(expected), (
            f"parse_value({text!r}) returned {value!r} ({type(value).__name__}); "
            f"expected {expected!r} ({type(expected).__name__})")


class TestPart2_Spec:
    @pytest.mark.parametrize("spec, expected", [
        ("grayscale", ("grayscale", {})),
        ("blur:radius=2", ("blur", {"radius": 2})),
        ("brightness:factor=1.5", ("brightness", {"factor": 1.5})),
        ("x:a=1,b=true,c=soft", ("x", {"a": 1, "b": True, "c": "soft"})),
        (" blur : radius = 2 ", ("blur", {"radius": 2})),
    ])
    def test_name_and_typed_parameters(self, spec, expected):
        result = ex.parse_spec(spec)
        assert tuple(result) == expected, (
            f"parse_spec({spec!r}) returned {result!r}; expected {expected!r}")
        for key, value in result[1].items():
            assert type(value) is type(expected[1][key]), (
                f"parse_spec({spec!r}) gave {key}={value!r} ({type(value).__name__}); "
                f"expected a {type(expected[1][key]).__name__}: use parse_value")

    @pytest.mark.parametrize("spec", [
        ":radius=2",            # no name
        "",                     # nothing at all
        "blur:radius",          # no '='
        "blur:radius=",         # no value
        "blur:=2",              # no key
        "blur:radius=1,radius=2",  # key twice
    ])
    def test_bad_specs_raise_spec_error_quoting_the_spec(self, spec):
        with pytest.raises(ValueError) as caught:
            ex.parse_spec(spec)
        assert isinstance(caught.value, ex.SpecError), (
            f"parse_spec({spec!r}) raised {type(caught.value).__name__}; expected SpecError")
        assert spec in str(caught.value), (
            f"parse_spec({spec!r}) raised {str(caught.value)!r}; put the spec in the "
            f"message so the reader sees what could not be read")


class TestPart3_Pipeline:
    @pytest.mark.parametrize("text, expected", [
        ("blur:radius=2|grayscale", [("blur", {"radius": 2}), ("grayscale", {})]),
        ("grayscale", [("grayscale", {})]),
        ("blur:radius=2 | edges |grayscale",
         [("blur", {"radius": 2}), ("edges", {}), ("grayscale", {})]),
    ])
    def test_steps_in_order(self, text, expected):
        result = [tuple(step) for step in ex.parse_pipeline(text)]
        assert result == expected, (
            f"parse_pipeline({text!r}) returned {result!r}; expected {expected!r}")

    @pytest.mark.parametrize("text, step", [
        ("blur||grayscale", 2), ("blur|", 2), ("|blur", 1), ("edges| |grayscale", 2),
    ])
    def test_an_empty_step_is_an_error_naming_the_step(self, text, step):
        with pytest.raises(ValueError) as caught:
            ex.parse_pipeline(text)
        assert f"step {step}" in str(caught.value), (
            f"parse_pipeline({text!r}) raised {str(caught.value)!r}; the message should "
            f"say 'step {step}' so the reader knows where to look")

    def test_a_bad_step_is_reported(self):
        with pytest.raises(ex.SpecError):
            ex.parse_pipeline("grayscale|blur:radius")

    def test_the_built_pipeline_works_on_real_pixels(self):
        grey = Image.new("RGB", (4, 4), (100, 100, 100))
        brighter = ex.build_pipeline("brightness:factor=2|grayscale").apply(grey)
        assert brighter.mode == "L" and brighter.getpixel((0, 0)) == 200, (
            f"build_pipeline('brightness:factor=2|grayscale') turned grey 100 into "
            f"{brighter.mode} {brighter.getpixel((0, 0))}; expected L 200")
        red = ex.build_pipeline("blur:radius=2|grayscale").apply(Image.new("RGB", (8, 8), "red"))
        assert red.getpixel((4, 4)) == 76
