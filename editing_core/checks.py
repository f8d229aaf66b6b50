"""What came back from an edit: how much changed inside and outside the edit's region
(any model), and, when the model folder names a reader, what the result shows against
what was asked.

A model folder may name its reader in `mtedit.json` beside `model_index.json`:

    {"reader": "toyworld.reader"}

an importable module of an installed package (never code loaded from the folder: a
module whose file lies inside the model folder is refused) with one function

    read(image, prompt, source_prompt=None) -> dict | None

`image` is the result (PIL), `prompt` the step's target prompt (the caption the result
should match), `source_prompt` the caption of the image edited (None for a generated
image: then everything in the prompt was asked). It returns {"asked": [claim ...],
"kept": [claim ...], "seen": "what it sees, in words"}, a claim being {"what": phrase,
"met": bool, "seen": what is there instead, "absent": True for "should be gone"}, or
None when the prompt says nothing it can read (e.g. a photo for the bundled model).

`check_result(...)` puts the two together into one JSON object, the node's check:
verdict "hit" (every asked claim met, nothing else changed), "missed" (an asked claim
not met, or nothing changed at all), "changed_more" (asked met, but something that
should have stayed changed, or much changed outside the region) or "unchecked" (no
reader could read the prompt: only the share of changed pixels is known).
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib
import io
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from editing_core.model_defaults import model_reader_name

log = logging.getLogger(__name__)

CHANGED = 24  # a pixel changed when one of its channels moved by more than this (of 255)
HARDLY = 0.005  # under this share of changed pixels, the image hardly changed
OUTSIDE = 0.05  # over this share of changed pixels outside a region is said
VERDICTS = ("hit", "missed", "changed_more", "unchecked")
MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")

Reader = Callable[..., "dict | None"]


def as_mask(region: Any, size: tuple[int, int]) -> np.ndarray | None:
    """A boolean mask (H, W) at `size` (W, H) from what a step may carry as its region:
    None, an object with a `.mask` array (a Region), a bool / number array (>= 0.5 is
    inside), a PIL image or PNG bytes (>= 128 is inside), or base64 text of PNG bytes."""
    if region is None:
        return None
    region = getattr(region, "mask", region)
    if isinstance(region, str):
        try:
            region = base64.b64decode(region, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a region given as text must be base64 PNG bytes") from None
    if isinstance(region, (bytes, bytearray, memoryview)):
        region = Image.open(io.BytesIO(bytes(region)))
    if isinstance(region, Image.Image):
        mask = np.asarray(region.convert("L")) >= 128
    else:
        a = np.squeeze(np.asarray(region))
        if a.ndim != 2:
            raise ValueError(f"a region mask is one 2-D array, not shape {a.shape}")
        mask = a if a.dtype == bool else np.nan_to_num(a.astype(np.float64)) >= 0.5
    if mask.shape != (size[1], size[0]):
        img = Image.fromarray(mask.astype(np.uint8) * 255, "L")
        mask = np.asarray(img.resize(size, Image.Resampling.NEAREST)) >= 128
    return mask


def pixel_change(before: Image.Image, after: Image.Image, region: Any = None) -> dict:
    """How much changed: the share of pixels that changed inside the region (the whole
    image without one) and outside it (None without one), and the mean change (0..1)."""
    a = np.asarray(before.convert("RGB"), dtype=np.int16)
    b = np.asarray(after.convert("RGB").resize(before.size), dtype=np.int16)
    diff = np.abs(a - b)
    changed = diff.max(axis=-1) > CHANGED
    mask = as_mask(region, before.size)
    out: dict[str, Any] = {"mean": round(float(diff.mean()) / 255, 4)}
    if mask is None or not mask.any():
        out.update(inside=round(float(changed.mean()), 4), outside=None, region=None)
    else:
        outside = changed[~mask]
        out.update(inside=round(float(changed[mask].mean()), 4),
                   outside=round(float(outside.mean()), 4) if outside.size else 0.0,
                   region=round(float(mask.mean()), 4))
    return out


@functools.lru_cache(maxsize=8)
def _load_reader(folder: str, name: str) -> Reader | None:
    if not MODULE.fullmatch(name):
        log.warning("model folder %s names a reader %r that is not a module name", folder, name)
        return None
    try:
        module = importlib.import_module(name)
    except Exception:
        log.warning("the reader %s of model folder %s cannot be imported", name, folder,
                    exc_info=True)
        return None
    where = Path(getattr(module, "__file__", "") or "").resolve()
    if Path(folder).resolve() in where.parents:
        log.warning("refusing the reader %s: it would run code from the model folder %s",
                    name, folder)
        return None
    read = getattr(module, "read", None)
    return read if callable(read) else None


def model_reader(model: str | Path | None) -> tuple[str, Reader] | None:
    """(module name, its read function) of the reader the model folder names, or None."""
    if not model:
        return None
    name = model_reader_name(model)
    if not name:
        return None
    folder = str(Path(str(model)).expanduser())
    read = _load_reader(folder, name)
    return (name, read) if read is not None else None


def check_result(after: Image.Image, prompt: str, *, before: Image.Image | None = None,
                 source_prompt: str | None = None, region: Any = None,
                 reader: tuple[str, Reader] | None = None) -> dict:
    """The check of one result (a JSON object; see the module's docstring)."""
    change = pixel_change(before, after, region) if before is not None else None
    reading = None
    if reader is not None:
        try:
            reading = reader[1](after, prompt, source_prompt)
        except Exception:
            log.warning("the reader %s failed", reader[0], exc_info=True)
    asked = list((reading or {}).get("asked") or [])
    kept = list((reading or {}).get("kept") or [])
    hardly = change is not None and change["inside"] < HARDLY
    outside = change is not None and (change["outside"] or 0.0) > OUTSIDE
    if asked:
        verdict = ("missed" if not all(c.get("met") for c in asked)
                   else "changed_more" if outside or not all(c.get("met") for c in kept)
                   else "hit")
    elif hardly and before is not None:
        verdict = "missed"
    elif outside or (reading is not None and not all(c.get("met") for c in kept)):
        verdict = "changed_more"
    else:
        verdict = "unchecked"
    return {"verdict": verdict, "reader": reader[0] if reader is not None else None,
            "read": reading is not None,
            "asked": asked, "kept": kept, "seen": (reading or {}).get("seen"),
            "change": change, "hardly_changed": hardly}
