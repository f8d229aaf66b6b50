"""How a lineage node is shown: thumbnails (made once per process; a placeholder saying
what doctor would say for a damaged image), data URIs for lineage cells, and labels."""

from __future__ import annotations

import base64
import io

import streamlit as st
from PIL import Image

from agent import ChatSession, DamagedImage, NodeView, placeholder_png

THUMB = 160  # long side of lineage thumbnails, pixels
CELL = 92  # width of a lineage cell on the page, pixels (three to a row)


def thumb(chat: ChatSession, node_id: str, size: int = THUMB) -> bytes | None:
    """A PNG thumbnail; for a damaged image a placeholder saying what doctor would say
    (not cached: it shows the image again once the blob is restored); None if unknown."""
    try:
        return _thumbnail(chat, str(chat.settings.db_url), node_id, size)
    except DamagedImage as exc:
        return placeholder_png(size, exc.problem)
    except (KeyError, OSError, ValueError):
        return None

def image_or_placeholder(chat: ChatSession, node_id: str) -> bytes:
    try:
        return chat.image_bytes(node_id)
    except DamagedImage as exc:
        return placeholder_png(512, exc.problem)

@st.cache_data(max_entries=2000, show_spinner=False)
def _thumbnail(_chat: ChatSession, db_url: str, node_id: str, size: int) -> bytes:
    """Node images never change, so their thumbnails are made once per process."""
    return _chat.thumbnail(node_id, size)

def cell_image(chat: ChatSession, node_id: str) -> str | None:
    """A small JPEG thumbnail as a data URI, for a lineage cell (one element per cell, no
    media request per image: a tree of hundreds of images stays quick to draw)."""
    try:
        return _cell_image(chat, str(chat.settings.db_url), node_id)
    except (KeyError, OSError, ValueError):
        return None

@st.cache_data(max_entries=2000, show_spinner=False)
def _cell_image(_chat: ChatSession, db_url: str, node_id: str) -> str:
    img = Image.open(io.BytesIO(_chat.thumbnail(node_id, 2 * CELL))).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")

def tag(node: NodeView, labels: dict[str, str]) -> str:
    """The node's label, unique in the conversation: "#2", "#2b" ..."""
    return "#" + labels.get(node.id, str(node.depth))

def what(node: NodeView) -> str:
    if node.kind == "upload":
        return "upload"
    if node.kind == "generate":
        return "generated"
    return node.instruction or node.caption

def node_label(node: NodeView, labels: dict[str, str]) -> str:
    return f"{tag(node, labels)} {what(node)}"
