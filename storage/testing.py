"""Helpers for tests: small valid PNG files without an imaging library."""

from __future__ import annotations

import random
import struct
import zlib


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def make_png(width: int = 8, height: int = 8, seed: int | str = 0) -> bytes:
    """A valid RGB PNG of random pixels; equal arguments give equal bytes."""
    rng = random.Random(seed)
    rows = b"".join(b"\0" + rng.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def make_latent(seed: int | str = 0, shape=(1, 4, 2, 2)) -> bytes:
    """A valid safetensors file holding one float32 tensor 'latent' of random values (the
    layout editing_core.latent_to_bytes writes); equal arguments give equal bytes."""
    import json

    rng = random.Random(seed)
    count = 1
    for n in shape:
        count *= n
    body = rng.randbytes(4 * count)
    header = json.dumps({"latent": {"dtype": "F32", "shape": list(shape),
                                    "data_offsets": [0, len(body)]}}).encode()
    return struct.pack("<Q", len(header)) + header + body
