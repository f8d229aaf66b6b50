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


def deep_chain_zip(store, png: bytes, caption: str, depth: int) -> bytes:
    """An export (storage.transfer's zip) of a conversation whose lineage is one chain of
    `depth` edits on an upload of `png` (its blob reused), each with its user message and
    the assistant's reply, as a very long chat would leave it."""
    import io
    import json
    import tempfile
    import zipfile
    from datetime import datetime, timedelta
    from pathlib import Path

    from storage.transfer import export_conversation

    conv = store.create_conversation("a long chat")
    store.add_upload(conv.id, png, caption)
    store.add_message(conv.id, "user", caption)
    store.add_message(conv.id, "assistant", "Stored the image.", kind="upload")
    with tempfile.TemporaryDirectory() as tmp:
        src = zipfile.ZipFile(io.BytesIO(export_conversation(
            store, conv.id, Path(tmp) / "short.zip").read_bytes()))
    doc = json.loads(src.read("conversation.json"))
    root, last = doc["nodes"][0], doc["messages"][-1]
    t0 = datetime.fromisoformat(last["created_at"])
    parent, msg_parent = root["id"], last["id"]
    for k in range(1, depth + 1):
        at = lambda s: (t0 + timedelta(seconds=2 * k + s)).isoformat()  # noqa: B023
        node = dict(root, id=f"n{k:08d}", parent_id=parent, kind="edit", depth=k,
                    instruction=f"edit number {k}", caption=f"a picture after {k} edits",
                    target_prompt=f"a picture after {k} edits", created_at=at(0))
        doc["nodes"].append(node)
        for i, role in enumerate(("user", "assistant")):
            msg = dict(last, id=f"m{role[0]}{k:08d}", parent_id=msg_parent, role=role,
                       text=f"edit number {k}" if role == "user" else f"Done: edit {k}.",
                       node_ids=[node["id"]] if role == "assistant" else [],
                       kind="user" if role == "user" else "edit", meta={}, created_at=at(i))
            doc["messages"].append(msg)
            msg_parent = msg["id"]
        parent = node["id"]
    doc["conversation"]["head_node_id"] = parent
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in src.namelist():
            zf.writestr(name, json.dumps(doc) if name == "conversation.json" else src.read(name))
    store.delete_conversation(conv.id)
    return out.getvalue()
