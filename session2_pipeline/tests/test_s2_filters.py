"""The filters, checked on real pixel values rather than only on types."""

from __future__ import annotations

import pytest
from PIL import Image

from session2_pipeline.core import FilterParameterError, PipelineInputError
from session2_pipeline.filters import (
    BaseFilter,
    BlurFilter,
    BrightnessFilter,
    EdgesFilter,
    GrayscaleFilter,
)


def flat(mode: str, colour, size=(24, 16)) -> Image.Image:
    return Image.new(mode, size, colour)


def one_colour(image: Image.Image):
    """The single colour of an image, or fail listing the colours found."""
    colours = image.getcolors(maxcolors=4)
    assert colours is not None and len(colours) == 1, (
        f"expected a single colour, found {colours or 'more than 4 colours'}")
    return colours[0][1]


class TestGrayscale:
    def test_output_has_one_band(self):
        result = GrayscaleFilter().apply(flat("RGB", (10, 200, 30)))
        assert result.mode == "L" and len(result.getbands()) == 1

    @pytest.mark.parametrize("rgb, expected", [
        # ITU-R 601-2 luma: L = R*299/1000 + G*587/1000 + B*114/1000
        ((255, 0, 0), 76),
        ((0, 255, 0), 150),
        ((0, 0, 255), 29),
        ((255, 255, 255), 255),
        ((100, 100, 100), 100),
    ])
    def test_luminance_follows_itu_r_601(self, rgb, expected):
        result = GrayscaleFilter().apply(flat("RGB", rgb))
        assert one_colour(result) == expected, f"grayscale of {rgb}"

    def test_keeps_transparency(self):
        result = GrayscaleFilter().apply(flat("RGBA", (255, 0, 0, 40)))
        assert result.mode == "LA"
        assert one_colour(result) == (76, 40)

    def test_does_not_modify_its_input(self):
        image = flat("RGB", (255, 0, 0))
        GrayscaleFilter().apply(image)
        assert image.mode == "RGB" and one_colour(image) == (255, 0, 0)


class TestBrightness:
    def test_factor_two_doubles_mid_grey(self):
        result = BrightnessFilter(factor=2).apply(flat("RGB", (64, 100, 127)))
        red, green, blue = one_colour(result)
        assert abs(red - 128) <= 1 and abs(green - 200) <= 1 and abs(blue - 254) <= 1

    def test_values_clip_at_white(self):
        assert one_colour(BrightnessFilter(factor=3).apply(flat("L", 200))) == 255

    def test_factor_zero_gives_black_and_one_changes_nothing(self):
        image = flat("RGB", (12, 34, 56))
        assert one_colour(BrightnessFilter(factor=0).apply(image)) == (0, 0, 0)
        assert one_colour(BrightnessFilter(factor=1).apply(image)) == (12, 34, 56)

    def test_alpha_is_not_scaled(self):
        result = BrightnessFilter(factor=2).apply(flat("RGBA", (50, 50, 50, 100)))
        assert one_colour(result) == (100, 100, 100, 100)


class TestEdges:
    @pytest.mark.parametrize("mode, colour", [("L", 128), ("RGB", (90, 160, 220))])
    def test_flat_image_has_no_edges_anywhere_including_the_border(self, mode, colour):
        result = EdgesFilter().apply(flat(mode, colour))
        zero = 0 if mode == "L" else (0, 0, 0)
        assert one_colour(result) == zero

    def test_a_step_is_found_where_it_is(self):
        image = flat("L", 0, size=(20, 10))
        image.paste(255, (10, 0, 20, 10))  # right half white
        result = EdgesFilter().apply(image)
        row = [result.getpixel((x, 5)) for x in range(20)]
        assert row[10] == 255, f"no edge at the step (x=10): {row}"
        assert row[:9] == [0] * 9 and row[12:] == [0] * 8, f"edges away from the step: {row}"

    def test_opaque_image_stays_opaque(self):
        result = EdgesFilter().apply(flat("RGBA", (90, 90, 90, 255)))
        assert result.mode == "RGBA"
        assert one_colour(result) == (0, 0, 0, 255)


class TestBlur:
    @pytest.mark.parametrize("radius", [0, 2, 10.5])
    def test_flat_image_is_unchanged(self, radius):
        result = BlurFilter(radius=radius).apply(flat("RGB", (30, 140, 250)))
        assert one_colour(result) == (30, 140, 250)

    def test_blur_spreads_a_bright_pixel(self):
        image = flat("L", 0, size=(21, 21))
        image.putpixel((10, 10), 255)
        result = BlurFilter(radius=2).apply(image)
        centre, neighbour = result.getpixel((10, 10)), result.getpixel((12, 10))
        assert 0 < centre < 255 and 0 < neighbour < centre

    def test_returns_a_new_image(self):
        image = flat("RGB", (1, 2, 3))
        assert BlurFilter(radius=0).apply(image) is not image


class TestParameters:
    @pytest.mark.parametrize("make, words", [
        (lambda: BlurFilter(radius=-1), ["blur", "radius", "-1", "0 to 50"]),
        (lambda: BlurFilter(radius=51), ["blur", "radius", "51", "0 to 50"]),
        (lambda: BrightnessFilter(factor=10.5), ["brightness", "factor", "10.5", "0 to 10"]),
        (lambda: BlurFilter(radius=float("nan")), ["blur", "radius", "nan", "0 to 50"]),
        (lambda: BlurFilter(radius="2"), ["blur", "radius", "'2'", "str", "0 to 50"]),
        (lambda: BrightnessFilter(factor=True), ["brightness", "factor", "True", "bool"]),
    ])
    def test_bad_values_name_filter_parameter_value_and_range(self, make, words):
        with pytest.raises(FilterParameterError) as caught:
            make()
        for word in words:
            assert word in str(caught.value), f"{word!r} missing from: {caught.value}"

    def test_parameter_errors_are_permanent_value_errors(self):
        assert issubclass(FilterParameterError, PipelineInputError)
        assert issubclass(FilterParameterError, ValueError)

    def test_unknown_parameter_lists_the_real_ones(self):
        with pytest.raises(FilterParameterError, match=r"unknown parameter 'x'.*no parameters"):
            EdgesFilter(x=1)

    def test_limits_are_allowed_and_stored_as_floats(self):
        assert BlurFilter(radius=0).params == {"radius": 0.0}
        assert BlurFilter(radius=50).params == {"radius": 50.0}
        assert isinstance(BrightnessFilter(factor=2).params["factor"], float)

    def test_defaults(self):
        assert BlurFilter().params == {"radius": 2.0}
        assert BrightnessFilter().params == {"factor": 1.2}
        assert EdgesFilter().params == {} and GrayscaleFilter().params == {}


class TestSpecsAndRepr:
    def test_spec(self):
        assert BlurFilter(radius=2).spec() == "blur:radius=2.0"
        assert BrightnessFilter(factor=1.5).spec() == "brightness:factor=1.5"
        assert EdgesFilter().spec() == "edges"
        assert GrayscaleFilter().spec() == "grayscale"

    def test_repr_and_equality(self):
        assert repr(BlurFilter(radius=3)) == "BlurFilter(radius=3.0)"
        assert BlurFilter(radius=3) == BlurFilter(radius=3.0)
        assert BlurFilter(radius=3) != BlurFilter(radius=4)
        assert EdgesFilter() != GrayscaleFilter()

    def test_base_filter_is_abstract(self):
        with pytest.raises(TypeError):
            BaseFilter()  # type: ignore[abstract]
