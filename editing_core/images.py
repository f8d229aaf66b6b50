"""Input images of any size and mode -> RGB on the model's grid, and back."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from editing_core.errors import ImageInputError
from mtedit.text import error_text

if TYPE_CHECKING:
    import torch


MAX_PIXELS = 64_000_000  # larger images are refused from their header, before decoding
WORK_PIXELS = 4096 * 4096  # larger ones are reduced right after decoding


def load_image(source, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A PIL image from a PIL image, a path or bytes; ImageInputError if it is not one.

    The pixel count is read from the file's header and checked against `max_pixels`
    before any pixel is decoded, so a tiny file that unpacks to a huge image costs
    nothing."""
    if isinstance(source, Image.Image):
        img = source
    else:
        try:
            if isinstance(source, (bytes, bytearray, memoryview)):
                img = _open_quietly(io.BytesIO(bytes(source)))
            elif isinstance(source, (str, Path)):
                img = _open_quietly(Path(source))
            else:
                raise ImageInputError(f"expected an image, a path or bytes, got {type(source).__name__}")
            check_pixels(img.width, img.height, max_pixels)
            if img.format == "JPEG" and img.width * img.height > WORK_PIXELS:
                img.draft(img.mode, (4096, 4096))  # decode at a reduced scale: cheap
            img.load()
        except ImageInputError:
            raise
        except FileNotFoundError as exc:
            raise ImageInputError(f"image file not found: {source}") from exc
        except Image.DecompressionBombError as exc:
            raise ImageInputError(f"the image has {bomb_megapixels(exc)} megapixels; the limit "
                                  f"is {max_pixels / 1e6:g} megapixels") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ImageInputError(f"not a readable image: {error_text(exc)}") from exc
    if img.width < 1 or img.height < 1:
        raise ImageInputError("the image is empty (zero width or height)")
    return img


def _open_quietly(fp) -> Image.Image:
    """Image.open without PIL's bomb warning: the pixel limit is said by check_pixels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(fp)


def bomb_megapixels(exc: BaseException) -> str:
    """How many megapixels PIL's DecompressionBombError says the image has ("more than
    178" when its message does not say)."""
    m = re.search(r"\((\d+) pixels\)", str(exc))
    if m:
        return f"{int(m.group(1)) / 1e6:,.0f}"
    return f"more than {2 * (Image.MAX_IMAGE_PIXELS or 0) // 1_000_000}"


def check_pixels(width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    """ImageInputError when width x height exceeds max_pixels."""
    if width * height > max_pixels:
        raise ImageInputError(
            f"the image has {width}x{height} pixels ({width * height / 1e6:.1f} megapixels); "
            f"the limit is {max_pixels / 1e6:g} megapixels"
        )


def reduce_large(img: Image.Image, max_pixels: int = WORK_PIXELS) -> Image.Image:
    """The image shrunk by a whole factor (cheap box reduction) until it has at most
    max_pixels pixels; unchanged when it already has."""
    if img.width * img.height <= max_pixels:
        return img
    factor = 2
    while (img.width // factor) * (img.height // factor) > max_pixels:
        factor += 1
    if img.mode == "1":
        img = img.convert("L")
    elif img.mode == "P":
        img = img.convert("RGBA")
    elif img.mode not in ("L", "LA", "RGB", "RGBA", "RGBa", "La", "I", "F", "CMYK", "YCbCr"):
        img = to_rgb(img)
    return img.reduce(factor)


def to_rgb(img: Image.Image) -> Image.Image:
    """Upright RGB of any mode Pillow opens, keeping its tones: 16-bit and 32-bit integer
    images are scaled to 8 bits (not clipped), float images by their range, transparent
    pixels are composited over white."""
    img = ImageOps.exif_transpose(img)
    if img.mode == "RGB":
        return img
    if img.mode in _WIDE:  # a 16-bit PNG's transparency key is dropped with the bits
        return Image.fromarray(_to_uint8(img), "L").convert("RGB")
    if img.mode == "La":  # premultiplied alpha
        img = img.convert("LA")
    elif img.mode == "RGBa":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    if img.mode == "LAB":
        from PIL import ImageCms

        return ImageCms.profileToProfile(
            img, ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    return img.convert("RGB")


_WIDE = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def _to_uint8(img: Image.Image) -> np.ndarray:
    """A 16/32-bit integer or float single-channel image as 8-bit tones."""
    arr = np.asarray(img, dtype=np.float64)
    if img.mode == "F":
        finite = arr[np.isfinite(arr)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if lo >= 0.0 and hi <= 1.0:  # a [0, 1] float image
            scaled = arr * 255.0
        elif lo >= 0.0 and hi <= 255.0:  # already 8-bit tones
            scaled = arr
        else:
            scaled = (arr - lo) / ((hi - lo) or 1.0) * 255.0
    else:
        lo, hi = float(arr.min()), float(arr.max())
        if img.mode == "I" and lo >= 0.0 and hi <= 255.0:  # 8-bit samples in 32 bits
            scaled = arr
        elif lo >= 0.0 and hi <= 65535.0:  # 16-bit samples (mode I holds 16-bit PNGs too)
            scaled = arr / 257.0
        else:
            scaled = (arr - lo) / ((hi - lo) or 1.0) * 255.0
    return np.nan_to_num(scaled, nan=0.0).clip(0, 255).round().astype(np.uint8)


def grid_size(width: int, height: int, max_side: int, multiple: int = 16) -> tuple[int, int]:
    """(W, H) on the model grid: multiples of `multiple`, long side at most max_side."""
    cap = max(multiple, (max_side // multiple) * multiple)
    scale = min(1.0, cap / max(width, height))

    def snap(n: float) -> int:
        return int(min(cap, max(multiple, round(n * scale / multiple) * multiple)))

    return snap(width), snap(height)


def image_to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL -> [1, 3, H, W] float32 in [-1, 1]."""
    import torch  # here, so that the agent's upload checks load without torch

    arr = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).float() / 127.5 - 1.0
    return arr.permute(2, 0, 1)[None]


def tensor_to_image(x: torch.Tensor) -> Image.Image:
    """[1, 3, H, W] in [-1, 1] -> RGB PIL."""
    import torch

    x = ((x[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Image.fromarray(x.permute(1, 2, 0).cpu().numpy(), "RGB")


def png_bytes(img: Image.Image) -> bytes:
    """The image as PNG file bytes (what the store keeps and the app shows)."""
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
