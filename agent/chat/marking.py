"""What the user marked on the current image before sending (a box dragged or a mask
drawn in the app, or given to ChatSession.send): checked once, before anything is stored,
and carried in the edit's job as a mask of the image's size (JobSpec.region)."""

from __future__ import annotations

import base64
from collections.abc import Sequence

EMPTY = ("The region you marked covers no pixel of the image, so nothing was sent; drag a "
         "box or draw over what should change, or clear it to let me find the place.")


def mark(head, region) -> dict:
    """The job's region for `region` on the image of node `head`: a box (x0, y0, x1, y1) in
    the image's pixels, or a mask (PNG bytes, a PIL image, a bool / number array; any size:
    brought to the image's by any coverage). ValueError, in plain words, when it cannot be
    used."""
    from editing_core.region import Region, as_region, resize_mask

    if head is None:
        raise ValueError("There is no image to mark yet: upload one or generate one first.")
    size = (head.width, head.height)
    if _is_box(region):
        try:
            x0, y0, x1, y1 = (round(float(v)) for v in region)
        except (TypeError, ValueError, OverflowError):
            raise ValueError("A box is four numbers: left, top, right, bottom.") from None
        found = Region.box(size, x0, y0, x1, y1)
    else:
        try:
            found = as_region(region)
        except (ValueError, TypeError, OSError) as exc:
            raise ValueError(f"The marked region could not be read ({exc}).") from None
        found = Region(resize_mask(found.mask, size), source="given")
    if found.empty:
        raise ValueError(EMPTY)
    return {"source": "drawn", "mask": base64.b64encode(found.png()).decode("ascii"),
            "coverage": round(found.coverage, 4)}


def _is_box(region) -> bool:
    return isinstance(region, Sequence) and not isinstance(region, (str, bytes, bytearray)) \
        and len(region) == 4 and all(not isinstance(v, Sequence) for v in region)


def with_places(region: dict | None, caption: str) -> tuple[dict | None, str | None]:
    """Region words that name things ("only the sky", "except the dog"): the caption they
    are named in and, where the caption rules can take them out, the caption without them
    (the runner finds their places where the model's velocity differs between the two:
    agent/jobs/regions.py). A sentence instead when the caption names none of them."""
    if not region or not region.get("things"):
        return region, None
    from agent.planning import captions as cap
    from editing_core.focus import find_word_spans

    things = list(region["things"])
    without: str | None = caption
    for thing in things:
        new = cap.remove(without, thing) if without else None
        without = new if new and new != without else None
    missing = [t for t in things if not find_word_spans(caption, t)]
    if missing and without is None:
        names = " and ".join(f"\"{t}\"" for t in missing)
        return region, (f"I could not find {names} in the picture's description "
                        f"(\"{caption}\"), so nothing was run — name it as the description "
                        "does, or drag a box over it.")
    return {**region, "caption": caption, "without": without}, None
