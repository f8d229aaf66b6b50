"""Size limits and kind checks for bytes that come from outside (imported archives).

MAX_BLOB_BYTES: the largest single blob an import may carry. The app stores uploads of
at most 4096 x 4096 pixels as PNG (at most ~50 MB even for noise) and their latents
(16 MB at that size), so 64 MiB leaves room and refuses anything else.
The archive as a whole is limited by the `import_max_mb` setting (MTEDIT_IMPORT_MAX_MB).
"""

from __future__ import annotations

import json
import struct

from storage.errors import StorageError

MAX_BLOB_BYTES = 64 * 2**20
# The largest image anywhere in the project (uploads are refused above 64 megapixels from
# their header, as editing_core.images.MAX_PIXELS); a PNG's side fits 16 bits here.
MAX_IMAGE_PIXELS = 64_000_000
MAX_IMAGE_SIDE = 65535
MAX_MANIFEST_BYTES = 64 * 2**20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SAFETENSORS_DTYPES = frozenset(
    ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2"]
)


class LimitError(StorageError):
    """Something from outside is larger than allowed or not the kind it claims to be."""


def archive_limit() -> int:
    """The largest archive (zip file, and all it unpacks to) an import accepts, in bytes."""
    from mtedit.settings import Settings

    return Settings.from_env().import_max_mb * 2**20


def check_png(data: bytes) -> str | None:
    """Why `data` is not a PNG with a sane header, or None."""
    if not data.startswith(PNG_SIGNATURE):
        return "not a PNG image"
    if len(data) < 33 or data[12:16] != b"IHDR":
        return "a PNG without its IHDR header"
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE) \
            or width * height > MAX_IMAGE_PIXELS:
        return f"a PNG of impossible size {width}x{height}"
    return None


def check_safetensors(data: bytes) -> str | None:
    """Why `data` is not a safetensors file (header read, tensors' extents checked)."""
    if len(data) < 8:
        return "not a safetensors latent (too short)"
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8 or n > 1 << 24:
        return "not a safetensors latent (bad header length)"
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, ValueError):
        return "not a safetensors latent (its header is not JSON)"
    if not isinstance(header, dict):
        return "not a safetensors latent (its header is not a mapping)"
    body = len(data) - 8 - n
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    if not tensors:
        return "a safetensors file without tensors"
    for name, spec in tensors.items():
        if (not isinstance(spec, dict) or spec.get("dtype") not in SAFETENSORS_DTYPES
                or not isinstance(spec.get("shape"), list)
                or not isinstance(spec.get("data_offsets"), list)
                or len(spec["data_offsets"]) != 2):
            return f"not a safetensors latent (tensor {name!r} is malformed)"
        start, end = spec["data_offsets"]
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= body):
            return f"not a safetensors latent (tensor {name!r} lies outside the file)"
    return None
