"""Regions in `mtedit bench toy`: which mask each edit gets, and how masks are scored.

`--region none` edits everywhere (as before); `auto` asks the backend for the edit's own
mask (`backend.auto_region`: the model's velocity under the two captions); `truth` uses
the world's own changed region (`Edit.changed_mask`: the boxes of the objects the edit
touches plus a 2-pixel margin, or everything but the objects' interiors for a background
change), the ceiling any mask can reach.

What an edit is decides its scope, as a planner's would: a background recolour changes
the background, a region of its own that covers most of the image by nature, so it is
not flagged as "most" (see `SCOPES`); every other edit of this world is local to one or
two objects. With `background="whole"` a background recolour instead runs without a
region (a global edit: style, grade, time of day); `bench toy` measured both on the
tuning split and keeps `region` (toyworld/model/README.md, "Regions").

Per turn (means over the scenes that had a mask):
- mask_iou, mask_recall: the mask used against the world's changed region;
- seam_delta: the colour step the edit introduced across the mask's border
  (`editing_core.composite.seam_delta`, 0-255);
- exact_fraction: over the pixels outside every mask the sequence used (with `none`:
  outside every changed region of the sequence, the pixels of untouched_psnr), the share
  byte-identical to turn 0; None for sequences with no such pixel;
- masks_empty / masks_most: how many local edits got an empty mask (the edit is not
  run: the chat would say it found nothing to change) or one over most of the image
  (used as it is: never widened or shrunk behind the user's back).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from toyworld import world as W

MODES = ("none", "auto", "truth")
BACKGROUND = ("region", "whole")
SCOPES = {"background": "background"}  # op -> scope; every other op is "local"


def scope_for(edit: W.Edit) -> str:
    """What the edit is, as a planner's scope: "background" or "local"."""
    return SCOPES.get(edit.op, "local")


def region_for(backend, mode: str, edit: W.Edit, latent, *, seed: int,
               background: str = "region"):  # fmt: skip
    """The Region an edit of `latent` gets in a mode (None: no region, edit everywhere)."""
    from editing_core.region import Region

    if mode not in MODES:
        raise ValueError(f"region must be one of {', '.join(MODES)}, not {mode!r}")
    if background not in BACKGROUND:
        raise ValueError(f"background must be one of {', '.join(BACKGROUND)}, not {background!r}")
    if mode == "none":
        return None
    if mode == "truth":
        return Region(edit.changed_mask(W.RESOLUTION), source="truth")
    if scope_for(edit) == "background" and background == "whole":
        return None
    return backend.auto_region(latent, W.caption(edit.before), W.caption(edit.after),
                               edit.focus, seed, size=(W.RESOLUTION, W.RESOLUTION))


def mask_scores(mask: np.ndarray, edit: W.Edit) -> tuple[float, float]:
    """(IoU, recall) of a mask against the edit's changed region."""
    truth = edit.changed_mask(mask.shape[0])
    inter = float((mask & truth).sum())
    union = float((mask | truth).sum())
    return (inter / union if union else 1.0), (inter / float(truth.sum()) if truth.any() else 1.0)


def exact_fractions(images: Sequence, original, outside: np.ndarray) -> list[float | None]:
    """Per turn, the share of the `outside` pixels byte-identical to the original."""
    if not outside.any():
        return [None] * len(images)
    ref = np.asarray(original.convert("RGB"))
    out = []
    for img in images:
        a = np.asarray(img.convert("RGB"))
        out.append(float((a == ref).all(axis=-1)[outside].mean()))
    return out


def outside_every_mask(masks: Sequence[np.ndarray | None], edits: Sequence[W.Edit],
                       mode: str) -> np.ndarray:  # fmt: skip
    """The pixels exact_fraction reads: outside every mask the sequence used; a turn with no
    region could change anything. With `none`, outside every changed region instead."""
    res = W.RESOLUTION
    touched = np.zeros((res, res), dtype=bool)
    for m, e in zip(masks, edits):
        if mode == "none":
            touched |= e.changed_mask(res)
        elif m is None:
            touched[:] = True
        else:
            touched |= m
    return ~touched


def pooled_psnr(errors: Sequence[tuple[float, int]]) -> float | None:
    """PSNR of the squared error summed over scenes ((sum, pixel count) per scene): one
    figure for all scenes, where the mean of per-scene PSNRs counts an exact scene as 100."""
    total = sum(s for s, _ in errors)
    count = sum(n for _, n in errors)
    if not count:
        return None
    mse = total / count
    return 100.0 if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def squared_error(image, reference, mask: np.ndarray) -> tuple[float, int] | None:
    """(sum of squared RGB errors, channel-pixel count) over a mask; None if it is empty."""
    if not mask.any():
        return None
    a = np.asarray(image.convert("RGB").resize(reference.size), dtype=np.float64)
    b = np.asarray(reference.convert("RGB"), dtype=np.float64)
    d = ((a - b) ** 2)[mask]
    return float(d.sum()), int(d.size)
