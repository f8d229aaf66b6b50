"""How a lineage node is shown: thumbnails (made once per process; a placeholder saying
what doctor would say for a damaged image), data URIs for the lineage tree, and labels."""

from __future__ import annotations

import streamlit as st

from agent import ChatSession, DamagedImage, NodeView, placeholder_png
from app.lineage_tree import THUMB as TREE_THUMB
from app.lineage_tree import thumbnail_uri

THUMB = 160  # long side of thumbnails, pixels


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

def tree_image(chat: ChatSession, node_id: str, masked: bool = False) -> str | None:
    """A small JPEG thumbnail as a data URI, for the lineage tree (inside its one element:
    no media request per image, so a tree of hundreds of images is quick to draw), with
    the region outlined when the node's edit was `masked`; a placeholder for a damaged
    image; None if unknown."""
    try:
        return _tree_image(chat, str(chat.settings.db_url), node_id, masked)
    except DamagedImage as exc:
        return thumbnail_uri(placeholder_png(2 * TREE_THUMB, exc.problem))
    except (KeyError, OSError, ValueError):
        return None

@st.cache_data(max_entries=5000, show_spinner=False)
def _tree_image(_chat: ChatSession, db_url: str, node_id: str, masked: bool = False) -> str:
    """Node images never change: made once per process."""
    # a line of 3 px of the 144: it stays visible at the tree's 72 CSS px, and in its JPEG
    outlined = _chat.region_overlay(node_id, 2 * TREE_THUMB, line=3) if masked else None
    return thumbnail_uri(outlined or _chat.thumbnail(node_id, 2 * TREE_THUMB))

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

def region_caption(node: NodeView) -> str:
    """What the outline on an edit's images means."""
    share = f" ({100 * node.region:.0f} % of the picture)" if node.region is not None else ""
    return f"Edited inside the outline{share}; everything outside is exactly as it was."


def region_image(chat: ChatSession, node_id: str, size: int, of: str | None = None,
                 dim: float = 0.0) -> bytes | None:
    """The image of `of` (default: the node) with the region of the node's edit outlined
    (ChatSession.region_overlay), made once per process; None without a region."""
    try:
        return _region_image(chat, str(chat.settings.db_url), node_id, size, of, dim)
    except (KeyError, OSError, ValueError):
        return None

@st.cache_data(max_entries=500, show_spinner=False)
def _region_image(_chat: ChatSession, db_url: str, node_id: str, size: int, of: str | None,
                  dim: float) -> bytes | None:
    """Images and masks never change: made once per process."""
    return _chat.region_overlay(node_id, size, of=of, dim=dim)
