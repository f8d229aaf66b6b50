"""Marking where the next edit may change the image: a box dragged or strokes drawn on the
current image (streamlit-drawable-canvas: a components.v2 element whose script and style
ship in its wheel and are served by the app, so the page still asks nothing of other
machines; a loop drawn counts with what it encloses), sent with the next
message (ChatSession.send(region=...)); what the agent does with it: agent/jobs/regions.py.

session_state holds the mark of this tab (MARK: the head it was drawn on and the box or
the mask's PNG), and a counter that gives the canvas a new key, which clears it."""

from __future__ import annotations

import io

import streamlit as st
from PIL import Image, ImageDraw, ImageOps

from agent import ChatSession
from app.nodes import thumb

MARK = "marked_region"  # session_state: {"head": node id, "region": box | mask PNG bytes}
CLEARS = "mark_clears"  # session_state: how often the canvas was cleared (its key)
OPEN = "mark-open"  # the toggle that shows the canvas (none is drawn until it is on)
LINE = "#ff2bd6"  # the overlay's colour (agent/chat/overlay.py)
FILL = "rgba(255, 43, 214, 0.25)"
SIDE = 384  # the canvas's long side, in screen pixels
BOX, DRAW = "Drag a box", "Draw"


def marked(chat: ChatSession):
    """The region marked on the current head (a box in its pixels, or a mask PNG), or None
    (nothing marked, or marked on another image)."""
    mark = st.session_state.get(MARK)
    if not mark or mark.get("head") != chat.head_id():
        return None
    return mark["region"]


def clear(close: bool = False) -> None:
    """Forget the mark and empty the canvas; close: put the canvas away too (after the
    message that used the mark was sent; call before the toggle is drawn)."""
    st.session_state.pop(MARK, None)
    st.session_state[CLEARS] = st.session_state.get(CLEARS, 0) + 1
    if close:
        st.session_state[OPEN] = False


def canvas_size(width: int, height: int) -> tuple[int, int]:
    """The canvas's (width, height) for an image of that size: its long side SIDE."""
    k = SIDE / max(width, height, 1)
    return max(1, round(width * k)), max(1, round(height * k))


ORIGIN = {"left": 0.0, "top": 0.0, "center": 0.5, "right": 1.0, "bottom": 1.0}


def box_of(objects: list[dict], scale: tuple[float, float],
           size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The last dragged rectangle (Fabric.js JSON: type "Rect", placed by its origin), in
    the pixels of the image of `size` (W, H) and clipped to it; None when there is none or
    nothing of it is on the image."""
    rects = [o for o in objects if str(o.get("type", "")).lower() == "rect"]
    if not rects:
        return None
    r = rects[-1]
    w = float(r.get("width", 0)) * float(r.get("scaleX", 1))
    h = float(r.get("height", 0)) * float(r.get("scaleY", 1))
    left = float(r.get("left", 0)) - ORIGIN.get(r.get("originX", "left"), 0.0) * w
    top = float(r.get("top", 0)) - ORIGIN.get(r.get("originY", "top"), 0.0) * h
    xs = sorted(min(max(round(x * scale[0]), 0), size[0]) for x in (left, left + w))
    ys = sorted(min(max(round(y * scale[1]), 0), size[1]) for y in (top, top + h))
    box = (xs[0], ys[0], xs[1], ys[1])
    return box if box[2] - box[0] >= 1 and box[3] - box[1] >= 1 else None


def mask_of(image_data) -> bytes | None:
    """The strokes of the canvas (its alpha) as a PNG mask, what they enclose included (an
    outline drawn around a thing marks all of it); None when nothing is drawn."""
    if image_data is None:
        return None
    alpha = Image.fromarray(image_data[..., 3]).point(lambda a: 255 if a > 0 else 0)
    if alpha.getbbox() is None:
        return None
    # what the outside cannot reach from the border without crossing a stroke is inside
    framed = ImageOps.expand(alpha.convert("L"), border=1, fill=0)
    ImageDraw.floodfill(framed, (0, 0), 128, thresh=0)
    mask = framed.crop((1, 1, framed.width - 1, framed.height - 1)).point(
        lambda a: 0 if a == 128 else 255)
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    return buf.getvalue()


def render_marking(chat: ChatSession) -> None:
    """The canvas over the current image, in an expander: drag a box (or draw) over what
    the next edit may change; the rest stays exactly as it is."""
    # imported here: the component registers its files only where Streamlit runs a page
    from streamlit_drawable_canvas import st_canvas

    head = chat.head_id()
    if head is None:
        return
    node = chat.node(head)
    # the canvas is SIDE px: a thumbnail of twice that keeps a 12-megapixel photo off the
    # page's every rerun (a damaged image shows what doctor would say)
    image = thumb(chat, head, 2 * SIDE)
    if image is None:
        return
    if not st.toggle("Mark where to edit", key=OPEN, help="Drag a box (or draw) on the "
                     "image: the next edit changes only inside it"):
        st.session_state.pop(MARK, None)
        return
    with st.container(key="marking"):
        st.caption("Drag a box over what the next edit may change (or draw over it); "
                   "everything outside stays exactly as it is. Clear it to let the edit "
                   "find its own place.")
        tool = st.segmented_control("Tool", [BOX, DRAW], default=BOX, key="mark-tool",
                                    label_visibility="collapsed") or BOX
        width, height = canvas_size(node.width or 1, node.height or 1)
        brush = st.slider("Brush", 4, 60, 24, key="mark-brush") if tool == DRAW else 2
        result = st_canvas(
            fill_color=FILL, stroke_width=brush, stroke_color=LINE, background_image=image,
            width=width, height=height, drawing_mode="rect" if tool == BOX else "freedraw",
            return_image_data=tool == DRAW,
            key=f"mark-{head}-{tool}-{st.session_state.get(CLEARS, 0)}")
        scale = ((node.width or width) / width, (node.height or height) / height)
        objects = (result.json_data or {}).get("objects") or []
        region = box_of(objects, scale, (node.width or width, node.height or height)) \
            if tool == BOX else (mask_of(result.image_data) if objects else None)
        if region is None:
            st.session_state.pop(MARK, None)
            return
        st.session_state[MARK] = {"head": head, "region": region}
        what = (f"the box {region[0]},{region[1]} – {region[2]},{region[3]}"
                if tool == BOX else "what you drew")
        row = st.container(horizontal=True, gap="small")
        row.caption(f"Your next edit changes only {what}.")
        if row.button("Clear", key="mark-clear", icon=":material/ink_eraser:"):
            clear()
            st.rerun()
