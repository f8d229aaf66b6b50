"""What the drawing canvas sends back becomes the region the next edit is limited to
(app/marking.py): a dragged box in the image's pixels, strokes as a mask."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from app.marking import box_of, canvas_size, mask_of


def rect(left, top, width, height, **more) -> dict:
    """A rectangle as the canvas's Fabric.js JSON gives it."""
    return {"type": "Rect", "left": left, "top": top, "width": width, "height": height,
            "originX": "left", "originY": "top", "scaleX": 1, "scaleY": 1, **more}


def test_the_canvas_has_the_images_shape_with_a_long_side_of_384():
    assert canvas_size(64, 64) == (384, 384)
    assert canvas_size(64, 48) == (384, 288)
    assert canvas_size(480, 960) == (192, 384)


def test_a_dragged_box_in_image_pixels():
    scale, size = (64 / 384, 64 / 384), (64, 64)
    assert box_of([rect(192, 48, 184, 297)], scale, size) == (32, 8, 63, 58)
    # the last box dragged counts; other shapes do not
    objects = [rect(0, 0, 60, 60), {"type": "Path", "left": 5, "top": 5}, rect(96, 96, 96, 96)]
    assert box_of(objects, scale, size) == (16, 16, 32, 32)
    # a box placed by its centre, or stretched afterwards, lands in the same pixels
    centred = rect(240, 240, 48, 96, originX="center", originY="center", scaleX=2)
    assert box_of([centred], scale, size) == (32, 32, 48, 48)


def test_a_box_is_clipped_to_the_image_and_one_off_it_is_nothing():
    scale, size = (0.5, 0.5), (100, 50)
    assert box_of([rect(-40, -20, 100, 60)], scale, size) == (0, 0, 30, 20)
    assert box_of([rect(150, 50, 200, 80)], scale, size) == (75, 25, 100, 50)
    assert box_of([rect(300, 10, 40, 40)], scale, size) is None  # right of the image
    assert box_of([rect(10, 10, 0.6, 40)], scale, size) is None  # flat
    assert box_of([], scale, size) is None


def _alpha(draw) -> np.ndarray:
    """RGBA canvas data with strokes drawn by `draw` on a transparent canvas."""
    img = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    draw(ImageDraw.Draw(img))
    return np.asarray(img)


def test_strokes_become_a_mask_and_an_outline_marks_what_it_encloses():
    assert mask_of(None) is None
    assert mask_of(_alpha(lambda d: None)) is None

    stroke = mask_of(_alpha(lambda d: d.line((10, 80, 80, 80), fill=(255, 0, 255, 255),
                                              width=6)))
    m = np.asarray(Image.open(io.BytesIO(stroke))) >= 128
    assert m.shape == (96, 96) and m[80, 40] and not m[40, 40] and not m[5, 5]

    ring = mask_of(_alpha(lambda d: d.ellipse((20, 20, 70, 70), outline=(255, 0, 255, 200),
                                              width=4)))
    m = np.asarray(Image.open(io.BytesIO(ring))) >= 128
    assert m[45, 45] and m[22, 45]  # its inside and the line itself
    assert not m[5, 5] and not m[90, 90] and not m[45, 85]  # the outside is not
