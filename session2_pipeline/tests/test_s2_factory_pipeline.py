"""FilterFactory (names, specs, registration) and FilterPipeline (composition, files)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from session2_pipeline.core import (
    DEFAULT_PIPELINE_SPECS,
    FilterFactory,
    FilterParameterError,
    FilterPipeline,
    InvalidImageError,
    PipelineInputError,
    UnknownFilterError,
    default_pipeline,
    parse_spec,
    register_filter,
    registry,
)
from session2_pipeline.filters import (
    BaseFilter,
    BlurFilter,
    BrightnessFilter,
    EdgesFilter,
    GrayscaleFilter,
    Parameter,
)


@pytest.fixture
def private_registry(monkeypatch):
    """Filters registered in a test disappear after it."""
    monkeypatch.setattr(registry, "_FILTERS", dict(registry._FILTERS))


class TestFactory:
    def test_available_lists_the_builtin_filters(self):
        assert {"blur", "brightness", "edges", "grayscale"} <= set(FilterFactory.available())
        assert FilterFactory.available() == sorted(FilterFactory.available())

    def test_create(self):
        assert FilterFactory.create("blur", radius=3) == BlurFilter(radius=3)
        assert FilterFactory.create("grayscale") == GrayscaleFilter()

    def test_unknown_name_lists_the_valid_ones(self):
        with pytest.raises(UnknownFilterError) as caught:
            FilterFactory.create("blurr")
        message = str(caught.value)
        assert "'blurr'" in message
        for name in ("blur", "brightness", "edges", "grayscale"):
            assert name in message
        assert "did you mean 'blur'" in message

    def test_unknown_keyword_is_a_parameter_error_not_a_type_error(self):
        with pytest.raises(FilterParameterError, match=r"sigma.*radius \(0 to 50\)"):
            FilterFactory.create("blur", sigma=2)

    def test_register_as_decorator(self, private_registry):
        @register_filter
        class InvertFilter(BaseFilter):
            name = "invert"

            def apply(self, image):
                return Image.eval(image, lambda value: 255 - value)

        assert "invert" in FilterFactory.available()
        result = FilterFactory.pipeline("grayscale|invert").apply(Image.new("RGB", (2, 2), "red"))
        assert result.getpixel((0, 0)) == 255 - 76

    def test_register_refuses_non_filters_and_bad_names(self, private_registry):
        with pytest.raises(TypeError, match="subclass of BaseFilter"):
            register_filter(dict)  # type: ignore[arg-type]

        class Nameless(BaseFilter):
            name = "Has Spaces"

            def apply(self, image):
                return image

        with pytest.raises(ValueError, match="lowercase word"):
            register_filter(Nameless)

    def test_a_name_cannot_be_taken_twice(self, private_registry):
        class OtherBlur(BaseFilter):
            name = "blur"

            def apply(self, image):
                return image

        with pytest.raises(ValueError, match="'blur' is already taken"):
            register_filter(OtherBlur)
        assert FilterFactory.create("blur") == BlurFilter()


class TestSpecs:
    @pytest.mark.parametrize("spec, expected", [
        ("grayscale", ("grayscale", {})),
        ("blur:radius=2", ("blur", {"radius": 2})),
        ("blur:radius=2.5", ("blur", {"radius": 2.5})),
        (" Blur : radius = 2 ", ("blur", {"radius": 2})),
        ("x:a=1,b=true,c=hello", ("x", {"a": 1, "b": True, "c": "hello"})),
    ])
    def test_parse_spec_types_values(self, spec, expected):
        name, params = parse_spec(spec)
        assert (name, params) == expected
        for key, value in params.items():
            assert type(value) is type(expected[1][key]), f"{key}={value!r} in {spec!r}"

    @pytest.mark.parametrize("spec, error, words", [
        ("", UnknownFilterError, ["no filter name", "blur:radius=2"]),
        (":radius=2", UnknownFilterError, ["no filter name"]),
        ("blur:radius", FilterParameterError, ["'radius'", "key=value"]),
        ("blur:=2", FilterParameterError, ["key=value"]),
        ("blur:radius=", FilterParameterError, ["key=value"]),
        ("blur:radius=1,radius=2", FilterParameterError, ["twice"]),
        ("blur:radius=abc", FilterParameterError, ["radius", "'abc'", "0 to 50"]),
        ("blur:radius=99", FilterParameterError, ["radius", "99", "0 to 50"]),
        ("sharpen", UnknownFilterError, ["'sharpen'", "blur, brightness, edges, grayscale"]),
    ])
    def test_bad_specs_say_what_is_wrong(self, spec, error, words):
        with pytest.raises(error) as caught:
            FilterFactory.from_spec(spec)
        for word in words:
            assert word in str(caught.value), f"{word!r} missing from: {caught.value}"

    @pytest.mark.parametrize("image_filter", [
        BlurFilter(radius=0.5), BlurFilter(radius=17), BrightnessFilter(factor=0.1),
        EdgesFilter(), GrayscaleFilter(),
    ])
    def test_specs_round_trip(self, image_filter):
        assert FilterFactory.from_spec(image_filter.spec()) == image_filter

    def test_pipeline_from_string_and_list_agree(self):
        from_string = FilterFactory.pipeline("blur:radius=2 | edges|grayscale")
        from_list = FilterFactory.pipeline(["blur:radius=2", "edges", "grayscale"])
        assert from_string == from_list
        assert from_string.specs() == ["blur:radius=2.0", "edges", "grayscale"]

    def test_pipeline_round_trips_through_json(self):
        pipeline = FilterFactory.pipeline("brightness:factor=1.5|blur:radius=1")
        assert FilterFactory.pipeline(json.loads(json.dumps(pipeline.specs()))) == pipeline

    def test_pipeline_errors_name_the_step(self):
        with pytest.raises(UnknownFilterError, match=r"step 2 of 'blur\|blurr'"):
            FilterFactory.pipeline("blur|blurr")
        with pytest.raises(UnknownFilterError, match="step 2"):
            FilterFactory.pipeline("blur||grayscale")
        with pytest.raises(TypeError, match="list of specs"):
            FilterFactory.pipeline(42)  # type: ignore[arg-type]

    def test_empty_list_is_an_empty_pipeline(self):
        assert len(FilterFactory.pipeline([])) == 0

    def test_default_pipeline(self):
        pipeline = default_pipeline()
        assert pipeline.specs() == [FilterFactory.from_spec(s).spec() for s in DEFAULT_PIPELINE_SPECS]
        # Only filters whose Pillow code releases the GIL (not brightness).
        assert "brightness" not in " ".join(pipeline.specs())
        result = pipeline.apply(Image.new("RGB", (30, 20), (200, 10, 10)))
        assert result.mode == "L" and result.getextrema() == (0, 0)


class TestPipeline:
    def test_applies_filters_in_order(self):
        image = Image.new("RGB", (4, 4), (100, 100, 100))
        brighter_then_gray = FilterPipeline([BrightnessFilter(factor=2), GrayscaleFilter()])
        assert brighter_then_gray.apply(image).getpixel((0, 0)) == 200
        # Order matters: grayscale then a factor of 3 clips at 255.
        pipeline = FilterPipeline([GrayscaleFilter(), BrightnessFilter(factor=3)])
        assert pipeline.apply(image).getpixel((0, 0)) == 255

    def test_add_is_chainable_and_checks_its_argument(self):
        pipeline = FilterPipeline().add(BlurFilter(radius=1)).add(GrayscaleFilter())
        assert len(pipeline) == 2
        assert [type(f) for f in pipeline] == [BlurFilter, GrayscaleFilter]
        with pytest.raises(TypeError, match="FilterFactory.create"):
            pipeline.add("grayscale")  # type: ignore[arg-type]

    def test_repr(self):
        pipeline = FilterPipeline([BlurFilter(radius=2), GrayscaleFilter()])
        assert repr(pipeline) == "FilterPipeline(blur:radius=2.0 | grayscale)"
        assert repr(FilterPipeline()) == "FilterPipeline()"

    def test_composition_makes_a_new_pipeline(self):
        first = FilterPipeline([BlurFilter(radius=2)])
        second = FilterPipeline([EdgesFilter(), GrayscaleFilter()])
        both = first + second
        assert both.specs() == ["blur:radius=2.0", "edges", "grayscale"]
        assert len(first) == 1 and len(second) == 2, "composition must not change its operands"

    def test_empty_pipeline_returns_a_copy(self):
        image = Image.new("RGB", (3, 3), "blue")
        result = FilterPipeline().apply(image)
        assert result is not image and result.tobytes() == image.tobytes()

    def test_palette_images_are_converted_before_filtering(self):
        palette = Image.new("RGB", (8, 8), (255, 0, 0)).convert("P")
        assert FilterPipeline([BlurFilter(radius=1)]).apply(palette).mode == "RGB"

    def test_process_file(self, tmp_path):
        source = tmp_path / "in.png"
        Image.new("RGB", (40, 30), (255, 0, 0)).save(source)
        output = tmp_path / "out" / "result.jpg"
        info = FilterPipeline([GrayscaleFilter()]).process_file(source, output)
        assert json.loads(json.dumps(info)) == info, "the result must be JSON-ready"
        assert info["input_path"] == str(source) and info["output_path"] == str(output)
        assert (info["width"], info["height"]) == (40, 30)
        assert info["filters"] == ["grayscale"] and info["seconds"] >= 0
        with Image.open(output) as written:
            assert written.format == "JPEG" and written.mode == "L"
            assert abs(written.getpixel((20, 15)) - 76) <= 2

    def test_process_file_refuses_a_bad_input_and_writes_nothing(self, tmp_path):
        source = tmp_path / "notes.jpg"
        source.write_text("not a picture")
        output = tmp_path / "out.jpg"
        with pytest.raises(InvalidImageError, match="notes.jpg") as caught:
            default_pipeline().process_file(source, output)
        assert isinstance(caught.value, PipelineInputError)
        assert list(tmp_path.iterdir()) == [source]


class TestFilterWithParametersDeclared:
    def test_a_new_filter_gets_validation_for_free(self, private_registry):
        @register_filter
        class ContrastFilter(BaseFilter):
            name = "contrast"
            parameters = (Parameter("amount", 0.0, 5.0),)

            def __init__(self, amount: float = 1.0) -> None:
                super().__init__(amount=amount)

            def apply(self, image):
                return image.copy()

        assert FilterFactory.from_spec("contrast:amount=2").params == {"amount": 2.0}
        with pytest.raises(FilterParameterError, match=r"contrast filter: amount=6 .*0 to 5"):
            FilterFactory.from_spec("contrast:amount=6")
