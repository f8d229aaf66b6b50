"""Made-up lineages for the demo page, its browser test and its benchmark: thumbnails
drawn with PIL, a new branch from the upload every `branch_every` images, the head a few
turns back on the last branch and the turns after it left behind (as after an undo)."""

from __future__ import annotations

import colorsys
import io
import string

from PIL import Image, ImageDraw


def picture(i: int, side: int = 144) -> bytes:
    """A small JPEG: a disc whose hue and place change with i, on a pale ground."""
    r, g, b = (int(255 * c) for c in colorsys.hsv_to_rgb((i * 0.137) % 1.0, 0.75, 0.9))
    img = Image.new("RGB", (side, side), (232, 240, 226))
    d = ImageDraw.Draw(img)
    x = side // 5 + (i * 7) % (side // 2)
    d.ellipse((x, side // 4, x + side // 3, side // 4 + side // 3), fill=(r, g, b))
    d.rectangle((side // 8, side * 3 // 4, side * 7 // 8, side * 7 // 8), fill=(70, 90, 160))
    d.text((6, 4), str(i), fill=(20, 20, 20))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def synthetic_nodes(n: int = 200, branch_every: int = 10, undone: int = 3) -> list[dict]:
    """n nodes as lineage_tree takes them (dicts, oldest first)."""
    parents: list[int | None] = [None]
    for i in range(1, n):
        parents.append(0 if i % branch_every == 0 else i - 1)
    depth = [0] * n
    for i in range(1, n):
        depth[i] = depth[parents[i]] + 1
    # The head: `undone` turns back from the last image, on the same branch.
    head = n - 1
    for _ in range(undone):
        if head > 0 and parents[head] == head - 1:
            head -= 1
    behind = set(range(head + 1, n)) if head < n - 1 and all(
        parents[k] == k - 1 for k in range(head + 1, n)) else set()
    seen: dict[int, int] = {}
    nodes = []
    for i in range(n):
        k = seen.get(depth[i], 0)
        seen[depth[i]] = k + 1
        nodes.append({
            "id": f"node-{i:04d}",
            "parent_id": None if parents[i] is None else f"node-{parents[i]:04d}",
            "label": f"{depth[i]}{_letters(k)}",
            "thumbnail": picture(i),
            "caption": "a ball on grass, uploaded" if i == 0
            else f"make version {i} of the ball a little different from the one before it",
            "is_head": i == head,
            "left_behind": i in behind,
        })
    return nodes


def _letters(k: int) -> str:
    """'' for the first image at a depth, then b, c, ..., z, ba, bb, ..."""
    if k == 0:
        return ""
    out = ""
    while k:
        k, r = divmod(k, 26)
        out = string.ascii_lowercase[r] + out
    return out
