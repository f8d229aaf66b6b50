"""A conversation's lineage as one picture: a tree of thumbnails joined by branch lines.

    from app.lineage_tree import lineage_tree
    click = lineage_tree([
        {"id": "a", "parent_id": None, "label": "0", "thumbnail": png_bytes,
         "caption": "a red ball on grass", "is_head": False},
        {"id": "b", "parent_id": "a", "label": "1", "thumbnail": "data:image/jpeg;base64,...",
         "caption": "make the ball blue", "is_head": True},
    ], key="lineage")
    if click:                       # only in the run the click caused
        open_actions(click.node_id)

One Streamlit element (a components.v2 component: plain JS/CSS in the page, in its own
shadow root, no iframe, nothing loaded from anywhere), laid out here in Python
(layout.py) and drawn by tree.js. It scrolls inside itself; the head is brought into
view inside the box, never by scrolling the page. Imports streamlit, the standard
library and PIL only: callers pass plain data.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import streamlit as st
from streamlit.components.v2 import component

from .layout import place

HERE = Path(__file__).parent
THUMB = 72  # the thumbnail box in the tree, CSS pixels
EMBED_MAX = 24_000  # image bytes embedded as they are up to this size; larger are shrunk
SUB_CHARS = 60  # the instruction under a thumbnail is cut here (the full one is on hover)

_MIME = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}

_component = component(
    "mtedit_lineage_tree",
    js=(HERE / "tree.js").read_text(encoding="utf-8"),
    css=(HERE / "tree.css").read_text(encoding="utf-8"),
)


@dataclass(frozen=True)
class TreeNode:
    """One image of the lineage, as the tree shows it."""

    id: str
    parent_id: str | None  # None (or an id not in the list): a root, e.g. an upload
    label: str  # the short name under the thumbnail ("0", "1b")
    thumbnail: str | bytes | None = None  # a data: URI, or PNG/JPEG/WebP/GIF bytes
    caption: str = ""  # the instruction or caption: cut under the thumbnail, whole on hover
    is_head: bool = False  # the image the next edit starts from
    left_behind: bool = False  # undone: drawn faded, its line dashed


@dataclass(frozen=True)
class TreeClick:
    """A click on a node. `count` grows by one with every click this tree registers in
    the browser session, so two clicks on the same node are two events."""

    node_id: str
    count: int


def thumbnail_uri(image: Any, size: int = 2 * THUMB, quality: int = 80) -> str:
    """A small JPEG data URI of an image (PIL image or encoded bytes), long side `size`
    pixels (twice the box by default, for sharp thumbnails on high-density screens)."""
    from PIL import Image

    img = image if isinstance(image, Image.Image) else Image.open(io.BytesIO(image))
    img = img.convert("RGB")
    img.thumbnail((size, size))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _src(thumbnail: str | bytes | None) -> str | None:
    if thumbnail is None or thumbnail == b"" or thumbnail == "":
        return None
    if isinstance(thumbnail, str):
        if not thumbnail.startswith("data:image/"):
            raise ValueError("a lineage thumbnail must be image bytes or a data:image/ URI "
                             "(the tree loads nothing from elsewhere)")
        return thumbnail
    data = bytes(thumbnail)
    mime = next((m for magic, m in _MIME.items() if data.startswith(magic)), None)
    if mime is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None or len(data) > EMBED_MAX:
        return thumbnail_uri(data)
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _node(n: TreeNode | Mapping[str, Any]) -> TreeNode:
    if isinstance(n, TreeNode):
        return n
    fields = TreeNode.__dataclass_fields__
    unknown = set(n) - set(fields)
    if unknown:
        raise ValueError(f"unknown lineage node fields: {', '.join(sorted(unknown))}")
    return TreeNode(**n)


def tree_data(nodes: Iterable[TreeNode | Mapping[str, Any]], *, selected: str | None = None,
              direction: Literal["down", "right"] = "down", thumb: int = THUMB,
              max_height: int = 480) -> dict[str, Any]:
    """What the browser gets: every node with its layer, lane and picture (plain JSON)."""
    items = [_node(n) for n in nodes]
    ids = [n.id for n in items]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        twice = next(i for i in ids if i in seen or seen.add(i))
        raise ValueError(f"the lineage lists node {twice!r} twice")
    if direction not in ("down", "right"):
        raise ValueError("direction must be 'down' or 'right'")
    spots = place(ids, [n.parent_id for n in items])
    out = []
    for n, p in zip(items, spots, strict=True):
        title = f"{n.label}: {n.caption}" if n.caption else n.label
        if n.is_head:
            title += " (head: the next edit starts here)"
        if n.left_behind:
            title += " (left behind by an undo)"
        sub = n.caption if len(n.caption) <= SUB_CHARS else n.caption[: SUB_CHARS - 1] + "…"
        out.append({"id": n.id, "parent": p.parent, "layer": p.layer, "lane": p.lane,
                    "label": n.label, "sub": sub, "title": title, "src": _src(n.thumbnail),
                    "is_head": n.is_head, "left_behind": n.left_behind})
    return {"nodes": out, "selected": selected, "direction": direction, "thumb": thumb,
            "max_height": max_height}


def lineage_tree(nodes: Iterable[TreeNode | Mapping[str, Any]], *, key: str = "lineage-tree",
                 selected: str | None = None, direction: Literal["down", "right"] = "down",
                 thumb: int = THUMB, max_height: int = 480) -> TreeClick | None:
    """Draw the lineage; return the click that caused this run, else None.

    nodes: TreeNode objects or dicts with TreeNode's fields, siblings oldest first.
    selected: the node whose actions the page shows (outlined). direction: turns go
    "down" (suits a narrow column) or to the "right". thumb: thumbnail box, px.
    max_height: the box scrolls beyond this many px. key: one per tree on a page.
    Not inside st.form (Streamlit drops component events there).
    """
    data = tree_data(nodes, selected=selected, direction=direction, thumb=thumb,
                     max_height=max_height)
    result = _component(key=key, data=data, on_click_change=_ignore)
    event = result.get("click")
    if not isinstance(event, Mapping) or not isinstance(event.get("id"), str):
        return None
    counter = f"{key}::clicks"
    st.session_state[counter] = st.session_state.get(counter, 0) + 1
    return TreeClick(event["id"], st.session_state[counter])


def _ignore() -> None:
    """A click rerun needs an on_click_change callback to exist; the return value is
    what the caller reads."""
