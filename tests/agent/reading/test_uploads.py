"""Hostile uploads: 16-bit tones kept; a tiny file that decodes huge is shrunk cheaply."""

import io
import time

import numpy as np
import pytest
from PIL import Image

from agent.reading.uploads import read_upload


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def stored(data: bytes) -> Image.Image:
    _, out = read_upload(("upload.png", data))
    return Image.open(io.BytesIO(out))


def test_a_16_bit_grey_upload_is_not_stored_white():
    img = stored(png_bytes(Image.fromarray(np.full((32, 48), 20000, dtype=np.uint16))))
    assert img.mode == "RGB" and img.size == (48, 32)
    assert abs(np.asarray(img, dtype=np.float64).mean() - 20000 / 257) <= 1


def test_an_8000_square_bilevel_png_is_shrunk_cheaply():
    data = png_bytes(Image.new("1", (8000, 8000), 1))
    assert len(data) < 50_000
    start = time.perf_counter()
    img = stored(data)
    took = time.perf_counter() - start
    assert img.width * img.height <= 4096 * 4096 and img.width == img.height
    assert np.asarray(img).min() == 255  # still white
    assert took < 30, took


def test_more_than_64_megapixels_is_refused_with_the_limit():
    data = png_bytes(Image.new("1", (9000, 8000), 0))
    with pytest.raises(ValueError, match="9000x8000.*64 megapixels"):
        read_upload(("big.png", data))


def test_a_png_whose_text_inflates_hugely_is_refused_in_plain_words():
    from PIL import PngImagePlugin

    from agent.reading.uploads import open_checked

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "A" * 20_000_000, zip=True)  # 20 MB of text in ~20 KB
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "PNG", pnginfo=info)
    with pytest.raises(ValueError) as refused:
        open_checked("text.png", buf.getvalue())
    said = str(refused.value)
    assert said.startswith("text.png is not a readable image")
    assert "MAX_TEXT_CHUNK" not in said and "Plugin" not in said
