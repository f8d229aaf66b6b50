"""Hostile images: every mode keeps its tones; huge images are refused before decoding."""

import io
import time

import numpy as np
import pytest
from PIL import Image

from editing_core.errors import ImageInputError
from editing_core.images import MAX_PIXELS, load_image, to_rgb


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def gray16(value: int, size=(24, 16)) -> Image.Image:
    return Image.fromarray(np.full(size[::-1], value, dtype=np.uint16))


@pytest.mark.parametrize("value", [0, 8192, 32768, 65535])
def test_a_16_bit_png_keeps_its_tones(value):
    img = load_image(png_bytes(gray16(value)))
    assert img.mode.startswith("I")
    rgb = np.asarray(to_rgb(img), dtype=np.float64)
    assert abs(rgb.mean() - value / 257) <= 1.0


def test_a_16_bit_gradient_stays_a_gradient():
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (8, 1))
    rgb = np.asarray(to_rgb(load_image(png_bytes(Image.fromarray(ramp)))))[..., 0]
    assert rgb[0, 0] == 0 and rgb[0, -1] == 255
    assert abs(int(rgb[0, 32]) - 130) <= 2 and np.all(np.diff(rgb[0].astype(int)) >= 0)


# (mode, colour given to Image.new, expected RGB of the result)
MODES = [
    ("1", 1, (255, 255, 255)),
    ("L", 100, (100, 100, 100)),
    ("LA", (100, 255), (100, 100, 100)),
    ("La", (100, 255), (100, 100, 100)),
    ("P", 0, (0, 0, 0)),
    ("RGBA", (10, 20, 30, 255), (10, 20, 30)),
    ("RGBa", (10, 20, 30, 255), (10, 20, 30)),
    ("RGBX", (10, 20, 30, 0), (10, 20, 30)),
    ("CMYK", (0, 0, 0, 0), (255, 255, 255)),
    ("YCbCr", (128, 128, 128), (128, 128, 128)),
    ("HSV", (0, 0, 200), (200, 200, 200)),
    ("LAB", (128, 128, 128), (119, 119, 119)),
    ("I", 30000, (117, 117, 117)),
    ("I", 100, (100, 100, 100)),
    ("I;16", 30000, (117, 117, 117)),
    ("I;16B", 30000, (117, 117, 117)),
    ("F", 0.5, (128, 128, 128)),
    ("F", 100.0, (100, 100, 100)),
    ("RGBA", (10, 20, 30, 0), (255, 255, 255)),  # transparent: white
]


@pytest.mark.parametrize("mode, colour, expected", MODES,
                         ids=[f"{m}-{c}" for m, c, _ in MODES])
def test_every_mode_becomes_rgb_with_its_tones(mode, colour, expected):
    rgb = np.asarray(to_rgb(Image.new(mode, (8, 8), colour)), dtype=np.int64)
    assert rgb.shape == (8, 8, 3)
    assert np.abs(rgb - np.array(expected)).max() <= 2, rgb[0, 0]


def big_bilevel_png(side: int) -> bytes:
    """A tiny file (a few KB) that decodes to side x side pixels."""
    return png_bytes(Image.new("1", (side, side), 1))


def test_a_huge_image_is_refused_from_its_header_before_decoding():
    data = big_bilevel_png(9000)  # 81 megapixels, 10 KB
    assert len(data) < 50_000 and 9000 * 9000 > MAX_PIXELS
    start = time.perf_counter()
    with pytest.raises(ImageInputError, match="9000x9000.*limit is 64 megapixels"):
        load_image(data)
    assert time.perf_counter() - start < 0.5  # nothing was decoded


def test_the_pixel_limit_is_applied_before_load(monkeypatch):
    data, decoded = big_bilevel_png(256), []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size))
    with pytest.raises(ImageInputError):
        load_image(data, max_pixels=256 * 255)
    assert decoded == []
