"""Tests for exercise 1: InvertFilter, SepiaFilter and their registration."""

from __future__ import annotations

import pytest
from PIL import Image

from session2_pipeline.core import FilterFactory, FilterParameterError
from workshop.exercises import load_exercise
from workshop.images import sample_photo

ex = load_exercise(__file__)  # the learner's file, the solution, or a mutant


def close(actual, expected, tolerance=1) -> bool:
    if isinstance(expected, int):
        actual, expected = (actual,), (expected,)
    return len(actual) == len(expected) and all(
        abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


class TestPart1_Invert:
    @pytest.mark.parametrize("mode, colour, expected", [
        ("RGB", (10, 100, 250), (245, 155, 5)),
        ("L", 0, 255),
        ("L", 200, 55),
    ])
    def test_colours_become_their_negative(self, mode, colour, expected):
        image = Image.new(mode, (4, 4), colour)
        result = ex.InvertFilter().apply(image)
        assert result.mode == mode, (
            f"InvertFilter().apply() on a {mode} image returned mode {result.mode}; "
            f"expected the same mode")
        assert result.getpixel((1, 1)) == expected, (
            f"InvertFilter().apply() on a {mode} image of {colour} gave "
            f"{result.getpixel((1, 1))}; expected 255 - v for each value: {expected}")

    @pytest.mark.parametrize("mode, colour, expected", [
        ("RGBA", (10, 100, 250, 77), (245, 155, 5, 77)),
        ("RGBA", (0, 0, 0, 255), (255, 255, 255, 255)),
        ("LA", (30, 200), (225, 200)),
    ])
    def test_alpha_is_kept(self, mode, colour, expected):
        result = ex.InvertFilter().apply(Image.new(mode, (4, 4), colour))
        assert result.mode == mode and result.getpixel((1, 1)) == expected, (
            f"InvertFilter().apply() on a {mode} image of {colour} gave {result.mode} "
            f"{result.getpixel((1, 1))}; expected {expected}: invert the colours, keep "
            f"the last (alpha) value, or an opaque picture becomes invisible")

    def test_inverting_twice_gives_the_photo_back(self):
        photo = Image.open(sample_photo()).convert("RGB")
        twice = ex.InvertFilter().apply(ex.InvertFilter().apply(photo))
        assert twice.tobytes() == photo.tobytes(), (
            "applying InvertFilter twice to the sample photo did not give the photo back")

    def test_the_input_is_not_modified(self):
        image = Image.new("RGB", (4, 4), (1, 2, 3))
        ex.InvertFilter().apply(image)
        assert image.getpixel((0, 0)) == (1, 2, 3), (
            "InvertFilter().apply(image) changed `image` itself; return a new image instead")

    def test_it_is_a_filter_without_parameters(self):
        invert = ex.InvertFilter()
        assert invert.spec() == "invert"
        with pytest.raises(FilterParameterError):
            ex.InvertFilter(level=3)
        # Built without parameters, it works (and not only its inherited name and spec).
        black = Image.new("L", (1, 1), 0)
        assert invert.apply(black).getpixel((0, 0)) == 255, (
            "InvertFilter() built without parameters did not turn black into white")


class TestPart2_Sepia:
    @pytest.mark.parametrize("colour, expected", [
        ((255, 255, 255), (255, 255, 239)),
        ((100, 100, 100), (135, 120, 94)),
        ((10, 20, 30), (25, 22, 17)),
    ])
    def test_full_strength_uses_the_sepia_matrix(self, colour, expected):
        result = ex.SepiaFilter(strength=1).apply(Image.new("RGB", (4, 4), colour))
        assert close(result.getpixel((0, 0)), expected), (
            f"SepiaFilter(strength=1).apply() on {colour} gave {result.getpixel((0, 0))}; "
            f"expected about {expected} (image.convert('RGB', SEPIA_MATRIX))")

    def test_strength_zero_changes_nothing_and_half_is_halfway(self):
        grey = Image.new("RGB", (4, 4), (100, 100, 100))
        unchanged = ex.SepiaFilter(strength=0).apply(grey).getpixel((0, 0))
        assert unchanged == (100, 100, 100), (
            f"SepiaFilter(strength=0) turned (100, 100, 100) into {unchanged}; "
            f"strength 0 should change nothing")
        half = ex.SepiaFilter(strength=0.5).apply(grey).getpixel((0, 0))
        assert close(half, (118, 110, 97)), (
            f"SepiaFilter(strength=0.5) turned (100, 100, 100) into {half}; expected about "
            f"(118, 110, 97), halfway between the original and (135, 120, 94)")

    def test_default_strength_is_one(self):
        assert ex.SepiaFilter().params == {"strength": 1.0}, (
            f"SepiaFilter().params is {ex.SepiaFilter().params}; expected {{'strength': 1.0}}")

    def test_strength_is_stored_and_written_in_the_spec(self):
        sepia = ex.SepiaFilter(strength=0.25)
        assert sepia.params == {"strength": 0.25}, (
            f"SepiaFilter(strength=0.25).params is {sepia.params}; expected "
            f"{{'strength': 0.25}}: declare `parameters` and call super().__init__(strength=...)")
        assert sepia.spec() == "sepia:strength=0.25", f"spec() gave {sepia.spec()!r}"

    @pytest.mark.parametrize("bad", [1.5, -0.1, "strong", float("nan")])
    def test_bad_strength_is_refused_with_a_clear_message(self, bad):
        with pytest.raises(FilterParameterError) as caught:
            ex.SepiaFilter(strength=bad)
        message = str(caught.value)
        for word in ("sepia", "strength", "0 to 1"):
            assert word in message, (
                f"SepiaFilter(strength={bad!r}) raised {message!r}; the message should "
                f"name the filter, the parameter and the range ({word!r} is missing)")

    def test_gray_input_gives_colour_and_alpha_is_kept(self):
        from_gray = ex.SepiaFilter().apply(Image.new("L", (4, 4), 100))
        assert from_gray.mode == "RGB" and close(from_gray.getpixel((0, 0)), (135, 120, 94)), (
            f"SepiaFilter().apply() on a gray (L) image gave {from_gray.mode} "
            f"{from_gray.getpixel((0, 0))}; expected RGB (135, 120, 94)")
        with_alpha = ex.SepiaFilter().apply(Image.new("RGBA", (4, 4), (100, 100, 100, 60)))
        assert with_alpha.mode == "RGBA" and with_alpha.getpixel((0, 0))[3] == 60, (
            f"SepiaFilter().apply() on RGBA gave {with_alpha.mode} "
            f"{with_alpha.getpixel((0, 0))}; expected RGBA with alpha 60 kept")


class TestPart3_Registered:
    def test_names_are_available(self):
        ex.register_filters()
        available = FilterFactory.available()
        assert "invert" in available and "sepia" in available, (
            f"after register_filters(), FilterFactory.available() is {available}; "
            f"expected 'invert' and 'sepia' among them")

    def test_specs_build_your_filters(self):
        ex.register_filters()
        built = FilterFactory.from_spec("sepia:strength=0.5")
        assert type(built) is ex.SepiaFilter and built.params == {"strength": 0.5}, (
            f"FilterFactory.from_spec('sepia:strength=0.5') gave {built!r}; expected "
            f"SepiaFilter(strength=0.5)")
        assert type(FilterFactory.from_spec("invert")) is ex.InvertFilter

    def test_a_pipeline_mixes_them_with_the_builtin_filters(self):
        ex.register_filters()
        result = FilterFactory.pipeline("grayscale|invert").apply(Image.new("RGB", (4, 4), "red"))
        assert result.getpixel((0, 0)) == 255 - 76, (
            f"'grayscale|invert' on pure red gave {result.getpixel((0, 0))}; expected "
            f"255 - 76 = 179")

    def test_registering_twice_is_harmless(self):
        ex.register_filters()
        ex.register_filters()
        assert FilterFactory.available().count("sepia") == 1
