"""Ids and small value helpers shared by the store's modules."""

from __future__ import annotations

import json
import os
import secrets
import socket
import struct
from typing import Any

from storage.errors import InvalidImageError, NotFoundError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def new_id() -> str:
    """A random 16-hex-digit id (64 bits)."""
    return secrets.token_hex(8)


def worker_name() -> str:
    """host:pid of this process (computed per call: a forked child has its own pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG header; InvalidImageError for anything that is not a PNG."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidImageError(f"image must be PNG bytes, got {type(data).__name__}")
    data = bytes(data[:24])
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise InvalidImageError("image bytes are not a PNG (convert uploads to PNG first)")
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        raise InvalidImageError("PNG has a zero width or height")
    return width, height


def json_copy(value: Any, what: str) -> Any:
    """A deep, JSON-normal copy (tuples become lists); TypeError names the field."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON-serializable: {exc}") from None


def root_first(by_id: dict, start: str, parent_attr: str) -> list:
    """Rows from the root of a tree down to `start`, following `parent_attr` upward."""
    from storage.walks import ancestors  # a cycle or a dangling parent raises, never loops

    what = "image node" if parent_attr == "parent_id" else "message"
    ids = ancestors(start, lambda i: getattr(by_id[i], parent_attr), what)
    return [by_id[i] for i in reversed(ids)]


def get_row(session, model, row_id: str | None, what: str):
    """The row of `model` with this id; NotFoundError (naming `what`) if there is none."""
    row = session.get(model, row_id) if row_id else None
    if row is None:
        raise NotFoundError(what, row_id)
    return row
