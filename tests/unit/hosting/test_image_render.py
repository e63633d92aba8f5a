"""fazt.hosting.image_render on its own: the pixel limit on both sides of Pillow's own
threshold, and every common pixel mode into every output format."""

import io

import pytest
from PIL import Image

from fazt.hosting import image_render
from fazt.hosting.image_query import VariantError
from tests.integration.test_image_variants import png_bomb

LIMIT = 50_000_000
# As in the server (image_render sets it at import; pytest resets filters per test).
pytestmark = pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")


@pytest.mark.parametrize(
    "size",
    [
        (10_000, 6_000),  # 1.2x the limit: Pillow itself would only warn
        (12_000, 12_000),  # 2.9x: Pillow raises its own error
        (100_000, 100_000),
    ],
)
def test_declared_pixels_above_the_limit_are_refused(size: tuple[int, int]) -> None:
    with pytest.raises(VariantError) as refused:
        image_render.render(png_bomb(*size), 160, "jpeg", LIMIT)
    assert refused.value.code == "IMAGE_TOO_LARGE"


def test_the_limit_is_the_setting_not_a_constant() -> None:
    small = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(small, "PNG")
    assert image_render.render(small.getvalue(), 160, "png", 120_000)
    with pytest.raises(VariantError):
        image_render.render(small.getvalue(), 160, "png", 119_999)


def sources() -> list[tuple[str, bytes]]:
    found = []
    for mode in ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16"]:
        base = Image.new("RGBA", (400, 300), (10, 200, 30, 128))
        im = Image.new(mode, (400, 300), 300) if mode == "I;16" else base.convert(mode)
        for kind in ["PNG", "JPEG", "WEBP", "GIF"]:
            out = io.BytesIO()
            try:
                im.save(out, kind)
            except (OSError, ValueError, KeyError):  # a mode the format cannot store
                continue
            found.append((f"{mode}-{kind}", out.getvalue()))
    return found


@pytest.mark.parametrize(("name", "data"), sources())
def test_every_mode_converts_to_every_format(name: str, data: bytes) -> None:
    for fmt in image_render.supported_formats():
        out = Image.open(io.BytesIO(image_render.render(data, 160, fmt, LIMIT)))
        assert out.size == (160, 120), (name, fmt)
        assert out.format == image_render.PIL_FORMAT[fmt]
