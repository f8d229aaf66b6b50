"""One damaged blob must not take down the page: a placeholder that says what doctor would
say for that node, and a missing or damaged latent rebuilt from an intact image."""

from __future__ import annotations

import io
import textwrap

from PIL import Image, ImageDraw

from storage import BlobCorruptError, BlobMissingError


class DamagedImage(ValueError):
    """A node's image blob is missing or corrupt; `problem` is doctor's line for it."""

    def __init__(self, node_id: str, problem: str):
        super().__init__(problem)
        self.node_id = node_id
        self.problem = problem


def doctor_line(node_id: str, what: str, exc: Exception) -> str:
    state = "missing" if isinstance(exc, BlobMissingError) else "corrupt"
    sha = getattr(exc, "sha256", "?")
    return (f"the {what} of this image (node {node_id}) is {state}: blob {sha[:12]}… "
            f"— run `mtedit doctor`; other images are not affected")


def read_image(store, node) -> bytes:
    """The node's PNG bytes, or DamagedImage naming what doctor would report."""
    try:
        return store.read_image(node)
    except (BlobMissingError, BlobCorruptError) as exc:
        raise DamagedImage(node.id, doctor_line(node.id, "image file", exc)) from None


def read_latent(store, node) -> bytes | None:
    """The node's latent bytes; None when it has none *or* when its blob is missing or
    corrupt (the caller then encodes the image again and stores the new latent)."""
    try:
        return store.read_latent(node)
    except (BlobMissingError, BlobCorruptError):
        return None


def placeholder_png(size: int, problem: str) -> bytes:
    """A grey square PNG of `size` pixels with the problem written on it."""
    size = max(64, int(size))
    img = Image.new("RGB", (size, size), (225, 225, 225))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, size - 1, size - 1], outline=(200, 60, 60), width=max(1, size // 64))
    width = max(12, size // 7)
    lines = ["image unavailable", *textwrap.wrap(problem, width)][: max(2, size // 14)]
    y = size // 12
    for line in lines:
        draw.text((size // 16, y), line, fill=(90, 30, 30))
        y += 12
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def image_problem(store, node) -> str | None:
    """Doctor's line for the node's image blob, or None when it is present and intact."""
    state = store.blobs.verify(node.image_sha256)
    if state == "ok":
        return None
    exc = BlobMissingError(node.image_sha256, "") if state == "missing" else \
        BlobCorruptError(node.image_sha256, "?", "")
    return doctor_line(node.id, "image file", exc)
