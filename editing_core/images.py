"""Input images of any size and mode -> RGB on the model's grid, and back."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from editing_core.errors import ImageInputError

if TYPE_CHECKING:
    import torch


def load_image(source) -> Image.Image:
    """A PIL image from a PIL image, a path or bytes; ImageInputError if it is not one."""
    if isinstance(source, Image.Image):
        img = source
    else:
        try:
            if isinstance(source, (bytes, bytearray, memoryview)):
                img = Image.open(io.BytesIO(bytes(source)))
            elif isinstance(source, (str, Path)):
                img = Image.open(Path(source))
            else:
                raise ImageInputError(f"expected an image, a path or bytes, got {type(source).__name__}")
            img.load()
        except ImageInputError:
            raise
        except FileNotFoundError as exc:
            raise ImageInputError(f"image file not found: {source}") from exc
        except Image.DecompressionBombError as exc:
            raise ImageInputError(f"image too large to open safely: {exc}") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ImageInputError(f"not a readable image: {exc}") from exc
    if img.width < 1 or img.height < 1:
        raise ImageInputError("the image is empty (zero width or height)")
    return img


def to_rgb(img: Image.Image) -> Image.Image:
    """Upright RGB; transparent pixels are composited over white."""
    img = ImageOps.exif_transpose(img)
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() or 1.0
        img = Image.fromarray((arr / hi * 255).astype(np.uint8))
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = arr.min(), arr.max()
        img = Image.fromarray(((arr - lo) / ((hi - lo) or 1.0) * 255).astype(np.uint8))
    return img.convert("RGB")


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
