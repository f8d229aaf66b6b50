"""Where each step of an edit job may change the image, from the first source there is:

1. the step's own: the mask of an earlier try of the same step (try again reuses it:
   step["region"] = {"node": id}), or a mask given with the step (step["region"] =
   base64 PNG text, as a job written by hand may carry);
2. what the user marked (JobSpec.region): a mask drawn or a box dragged on the image
   ({"source": "drawn", "mask": base64 PNG}), or region words read from the request
   (agent/reading/regions.py: {"source": "words", "box": shares of the frame} or
   {"things": [...], "except": bool}: where the things are, found by the model in the
   image's caption, or everywhere but there);
3. the step's scope: a global step (a look, a grade, the light) has no region;
4. the conversation's region mode (EditSettings.region): "auto" asks the model where the
   edit acts (backend.auto_region: the velocity difference under the two captions);
   "none" edits everywhere.

Nothing is widened behind the user's back: a step whose region comes out empty is not run
(the reply says so: name it or draw a box); an automatic region over most of the picture
is used as it is, and the reply says how much it covers.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

NOTHING = ("I could not find what to change, so nothing was run — try naming it or drawing "
           "a box on the image")
GEOMETRY = ("flip", "rotate", "crop", "resize")  # exact operations that move every pixel


@dataclass
class StepRegion:
    """The region of one step. region None: the step may change everything. skip: nothing
    to change was found, the step is not run. note: what the reply says about it."""

    region: object | None = None  # editing_core.region.Region
    note: str | None = None
    skip: bool = False


def _percent(region) -> str:
    return f"{100 * region.coverage:.0f} %"


def decode_mask(text: str) -> bytes:
    """The PNG bytes of a mask carried as base64 text (ValueError when it is not)."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise ValueError("the marked region could not be read; draw it again") from None


def given(spec_region: dict | None, size: tuple[int, int]):
    """The Region the user marked with a mask or a box (None for words or nothing), at
    `size` (W, H) of the image edited."""
    from editing_core.region import Region, as_region, resize_mask

    if not spec_region or "mask" not in spec_region:
        return None
    region = as_region(decode_mask(spec_region["mask"]))
    return Region(resize_mask(region.mask, size), source="given")


def _box(spec_region: dict, size: tuple[int, int]):
    from editing_core.region import Region

    x0, y0, x1, y1 = (float(v) for v in spec_region["box"])
    w, h = size
    return Region.box(size, round(x0 * w), round(y0 * h), round(x1 * w), round(y1 * h))


def _things(backend, latent, caption: str, spec_region: dict, size, seed: int,
            memo: dict | None = None) -> StepRegion:
    """Where the named things are, or everywhere but there: found once per job (`memo`),
    in the image the job starts from. With `without` (the caption without them, made by
    the planner's caption rules) it is where the model's velocity differs between the
    caption and that (measured on the bundled model: IoU .79 against the objects' true
    places, where the attention of their words reaches .41: bench/region_words.py); else
    the attention of their words in the caption."""
    from editing_core.focus import find_word_spans

    if memo is not None and "things" in memo:
        return memo["things"]
    things = [t for t in spec_region.get("things") or [] if t]
    without, named = spec_region.get("without"), spec_region.get("caption") or caption
    missing = [t for t in things if not find_word_spans(named, t)]
    if not things or (missing and not without):
        names = " and ".join(f"\"{t}\"" for t in missing or things)
        return StepRegion(skip=True, note=(
            f"I could not find {names} in the picture's description (\"{named}\"), so "
            "nothing was run — name it as the description does, or draw a box on the image"))
    if without:
        region = backend.auto_region(latent, without, named, things, seed, size=size,
                                     method="velocity")
    else:
        region = backend.auto_region(latent, named, named, things, seed, size=size,
                                     method="attention")
    if spec_region.get("except"):
        region = region.inverted()
    found = StepRegion(region) if not region.empty else StepRegion(skip=True, note=NOTHING)
    if memo is not None:
        memo["things"] = found
    return found


def _reused(store, step: dict, size):
    """The mask an earlier try of this step was limited to, or the one given with the step
    as base64 PNG text, if it has one."""
    from editing_core.region import Region, as_region, resize_mask

    if isinstance(step.get("region"), str) and step["region"]:
        return given({"mask": step["region"]}, size)
    node_id = (step.get("region") or {}).get("node") if isinstance(
        step.get("region"), dict) else None
    if not node_id:
        return None
    try:
        data = store.read_mask(node_id)
    except Exception:  # a lost mask: the step finds its region again
        log.warning("could not read the mask of %s", node_id, exc_info=True)
        return None
    if data is None:
        return None
    return Region(resize_mask(as_region(data).mask, size), source="given")


def for_step(store, backend, spec, step: dict, latent, size: tuple[int, int], *,
             source_prompt: str, seed: int, memo: dict | None = None) -> StepRegion:
    """The region of an edit step of `spec` on the image of `size` (W, H) whose latent is
    `latent` and whose caption is `source_prompt` (see the module docstring)."""
    if (region := _reused(store, step, size)) is not None:
        return StepRegion(region) if not region.empty else StepRegion(skip=True, note=NOTHING)
    marked = spec.region or None
    if marked and "mask" in marked:
        region = given(marked, size)
        return StepRegion(region) if not region.empty else StepRegion(skip=True, note=NOTHING)
    if marked and "box" in marked:
        return StepRegion(_box(marked, size))
    if marked and marked.get("things") is not None:
        return _things(backend, latent, source_prompt, marked, size, seed, memo)
    if step.get("scope", "local") == "global" or spec.region_mode != "auto":
        return StepRegion()
    region = backend.auto_region(latent, source_prompt, step["target_prompt"],
                                 step.get("focus_words", ()), seed, size=size)
    if region.status == "empty":
        return StepRegion(skip=True, note=NOTHING)
    if region.status == "most":
        return StepRegion(region, note=(
            f"The change covers most of the picture ({_percent(region)}), so I edited all "
            "of that and kept the rest exactly as it was."))
    return StepRegion(region)


def for_operation(backend, spec, op_name: str, size: tuple[int, int], latent_of, *,
                  source_prompt: str, seed: int, memo: dict | None = None) -> StepRegion:
    """An exact operation keeps to the marked region (a mask, a box, or the things the
    words name, found by the model in `latent_of()`) when it changes colours only (black
    and white); one that moves pixels (flip, rotate, crop, resize) acts on the whole
    frame, and the reply says so."""
    marked = spec.region or None
    if not marked:
        return StepRegion()
    if op_name in GEOMETRY:
        return StepRegion(note=f"A {op_name} moves every pixel, so it applies to the whole "
                               "picture, not only to the region you named")
    if "mask" in marked:
        region = given(marked, size)
    elif "box" in marked:
        region = _box(marked, size)
    elif marked.get("things") is not None and backend is not None:
        return _things(backend, latent_of(), source_prompt, marked, size, seed, memo)
    else:
        return StepRegion()
    return StepRegion(region) if not region.empty else StepRegion(skip=True, note=NOTHING)
