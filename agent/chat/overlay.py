"""A node's region drawn over an image for the page: the outline of the mask its edit was
limited to (storage: the node's mask blob), optionally with the outside dimmed."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from editing_core.images import png_bytes

LINE = (255, 43, 214)  # a magenta no photo is full of
SHADE = (20, 20, 20)


def overlay(image_png: bytes, mask_png: bytes, size: int = 384, dim: float = 0.0,
            line: int | None = None) -> bytes:
    """A PNG of the image (long side `size`) with the mask's border drawn on it (a light
    line with a dark one inside, visible on any picture; `line` pixels each, default a
    200th of the side); dim > 0 darkens the outside by that share."""
    img = Image.open(io.BytesIO(image_png)).convert("RGB")
    if max(img.size) < size:  # a small picture is enlarged (pixels kept sharp): a line shows
        k = max(1, size // max(img.size))
        img = img.resize((img.width * k, img.height * k), Image.Resampling.NEAREST)
    img.thumbnail((size, size))
    mask = Image.open(io.BytesIO(mask_png)).convert("L").resize(img.size, Image.Resampling.BOX)
    inside = np.asarray(mask) >= 128
    out = np.asarray(img).astype(np.float32)
    if dim > 0:
        out[~inside] *= 1.0 - float(dim)
    m = Image.fromarray(inside.astype(np.uint8) * 255, "L")
    width = max(1, line or round(max(img.size) / 200))
    grown = np.asarray(m.filter(ImageFilter.MaxFilter(2 * width + 1))) >= 128
    shrunk = np.asarray(m.filter(ImageFilter.MinFilter(2 * width + 1))) >= 128
    out[grown & ~inside] = LINE
    out[inside & ~shrunk] = SHADE
    return png_bytes(Image.fromarray(out.clip(0, 255).astype(np.uint8), "RGB"))
