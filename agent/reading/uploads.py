"""Reading uploads: any image PIL opens, checked for size, flattened to RGB PNG bytes."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image, ImageOps

from editing_core.images import bomb_megapixels, png_bytes, reduce_large, to_rgb

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_UPLOAD_PIXELS = 64_000_000  # more is a decompression bomb, not a photo


class _TooLarge(ValueError):
    """Our own refusal inside the decoding block (PIL's ValueErrors are not passed on)."""


def open_checked(name: str, data: bytes) -> Image.Image:
    """The decoded image, or ValueError saying why these bytes cannot be used."""
    if not data:
        raise ValueError(f"{name} is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(f"{name} is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # said below
            probe = Image.open(io.BytesIO(data))
        with probe:
            w, h = probe.size
            if w * h > MAX_UPLOAD_PIXELS:
                raise _TooLarge(f"{name} has {w}x{h} pixels; the limit is "
                                 f"{MAX_UPLOAD_PIXELS // 1_000_000} megapixels")
            probe.verify()
        img = Image.open(io.BytesIO(data))
        img.load()
    except _TooLarge:
        raise
    except Image.DecompressionBombError as exc:  # larger than PIL opens at all
        raise ValueError(f"{name} has {bomb_megapixels(exc)} megapixels; the limit is "
                         f"{MAX_UPLOAD_PIXELS // 1_000_000} megapixels") from None
    except Exception:  # noqa: BLE001 - PIL raises many kinds for bad files
        raise ValueError(f"{name} is not a readable image: that file is not an image mtedit "
                         "can read (PNG, JPEG, WebP, BMP, GIF or TIFF)") from None
    return img


def check_upload(name: str, data: bytes) -> str | None:
    """Why this upload cannot be used (one sentence), or None: the UI asks before sending."""
    try:
        open_checked(name, data)
    except ValueError as exc:
        return str(exc)
    return None


def read_upload(item) -> tuple[str, bytes]:
    """(name, PNG bytes) from a path, (name, bytes) or a file-like with .name/.getvalue()."""
    if isinstance(item, (str, Path)):
        path = Path(item)
        if not path.is_file():
            raise ValueError(f"{path} is not a file")
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            raise ValueError(f"{path.name} is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
        name, data = path.name, path.read_bytes()
    elif isinstance(item, tuple) and len(item) == 2:
        name, data = str(item[0]), bytes(item[1])
    elif hasattr(item, "getvalue"):
        name, data = getattr(item, "name", "upload"), item.getvalue()
    else:
        raise ValueError(f"unsupported upload {type(item).__name__}")
    img = open_checked(name, data)
    img = to_rgb(reduce_large(ImageOps.exif_transpose(img)))  # tones kept; huge ones shrunk
    if min(img.size) < 8:
        raise ValueError(f"{name} is too small ({img.width}x{img.height})")
    return name, png_bytes(img)
