"""The bundled model's reader: what an image of the toy world shows, against a caption.

Named in toyworld/model/mtedit.json (`"reader": "toyworld.reader"`) and called by
editing_core.checks after every edit and generation:

    read(image, prompt, source_prompt=None) -> {"asked": [...], "kept": [...], "seen": str} | None

The prompt is read back into the world's terms (objects: size, colour, shape, place;
the background colour) and compared with `world.detect(image)`. With the source prompt
(the caption of the image edited) the claims split into what the edit asked (an object
added, recoloured, reshaped, resized, moved or removed; a new background) and what should
have stayed. None when the prompt names nothing of this world (a photo's caption).

The reader shares the detector (`world.detect`) with `mtedit bench toy`, and nothing
else: the benchmark scores every edit against its ground-truth `Edit`, never against a
caption or this reader, and nothing retries until either agrees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PIL import Image

from toyworld import world as W

_PLACES = {p: i for i, p in enumerate(W.POSITIONS)} | {"in the middle": 4}
_COLOUR = "|".join(W.COLOURS)
_PLACE = "|".join(sorted(_PLACES, key=len, reverse=True))
_OBJECT = re.compile(
    rf"\b(?:(?P<size>small|large)\s+)?(?:(?P<colour>{_COLOUR})\s+)?(?:striped\s+)?"
    rf"(?P<shape>circle|square|triangle)s?\b(?:\s+(?P<place>{_PLACE})\b)?")
_BACKGROUND = re.compile(rf"\b(?P<colour>{_COLOUR})\s+(?:striped\s+)?background\b")


@dataclass(frozen=True)
class Said:
    """An object as a caption names it (None: not said)."""

    shape: str
    colour: str | None
    size: str | None
    cell: int | None

    def phrase(self) -> str:
        words = ["a", self.size, self.colour, self.shape]
        where = W.POSITIONS[self.cell] if self.cell is not None else None
        return " ".join(w for w in [*words, where] if w)

    def fits(self, d: W.Detected | None, attrs=("colour", "shape", "size")) -> bool:
        return d is not None and all(getattr(self, a) in (None, getattr(d, a)) for a in attrs)


def parse(prompt: str | None) -> tuple[list[Said], str | None]:
    """The objects and the background colour a caption names."""
    text = (prompt or "").lower()
    background = None
    if m := _BACKGROUND.search(text):
        background = m["colour"]
        text = text[: m.start()] + " " + text[m.end():]
    objects = [Said(m["shape"], m["colour"], m["size"],
                    _PLACES[m["place"]] if m["place"] else None) for m in _OBJECT.finditer(text)]
    return objects, background


def _seen(d: W.Detected | None, cell: int | None) -> str:
    if d is None:
        return f"nothing {W.POSITIONS[cell]}" if cell is not None else "no such shape"
    return f"a {d.size} {d.colour} {d.shape} {W.POSITIONS[d.cell]}"


def _claim(what: str, met: bool, seen: str, absent: bool = False) -> dict:
    out = {"what": what, "met": bool(met), "seen": seen}
    if absent:
        out["absent"] = True
    return out


def _found(reading: W.Reading, o: Said) -> W.Detected | None:
    """The detected object the caption's object is about: at its place, or (no place
    said) the first one of its shape and colour."""
    if o.cell is not None:
        return reading.at(o.cell)
    return next((d for d in reading.objects if o.fits(d, ("shape", "colour"))), None)


def _counterpart(o: Said, source: list[Said]) -> Said | None:
    """The source object this one came from: the same place, or (a move) the same object
    elsewhere."""
    if o.cell is not None:
        here = next((s for s in source if s.cell == o.cell), None)
        if here is not None:
            return here
    return next((s for s in source if (s.shape, s.colour, s.size) == (o.shape, o.colour, o.size)
                 and s.cell != o.cell), None)


def read(image: Image.Image, prompt: str, source_prompt: str | None = None) -> dict | None:
    """What the image shows against the prompt (see the module docstring)."""
    objects, background = parse(prompt)
    if not objects and background is None:
        return None
    source, source_bg = parse(source_prompt) if source_prompt is not None else ([], None)
    reading = W.detect(image)
    asked: list[dict] = []
    kept: list[dict] = []
    if background is not None:
        claim = _claim(f"a {background} background", reading.background == background,
                       f"a {reading.background} background")
        (kept if source_prompt is not None and source_bg == background else asked).append(claim)
    same = {id(o): next((s for s in source if s == o), None) for o in objects}
    used = {id(s) for s in same.values() if s is not None}
    for o in objects:
        d = _found(reading, o)
        if same[id(o)] is not None:  # the same object, said the same way: it should stay
            kept.append(_claim(o.phrase(), o.fits(d), _seen(d, o.cell)))
            continue
        before = _counterpart(o, [s for s in source if id(s) not in used])
        if before is None:  # a new object: all that is said of it was asked
            asked.append(_claim(o.phrase(), o.fits(d), _seen(d, o.cell)))
            continue
        used.add(id(before))
        changed = tuple(a for a in ("colour", "shape", "size") if getattr(o, a) != getattr(before, a))
        moved = before.cell != o.cell
        left = reading.at(before.cell) if moved and before.cell is not None else None
        # A move asks for the object (known by its colour) at its new place, gone from the
        # old one; a shape it lost on the way is a change beyond what was asked.
        ok = o.fits(d, changed or ("colour",)) and left is None
        seen = _seen(d, o.cell) + (f", and {_seen(left, before.cell)} still" if left else "")
        asked.append(_claim(o.phrase(), ok, seen))
        if ok and not o.fits(d):  # what was asked is there, but not as it was
            kept.append(_claim(before.phrase(), False, _seen(d, o.cell)))
    for s in source:
        if id(s) in used:
            continue
        d = reading.at(s.cell) if s.cell is not None else _found(reading, s)
        asked.append(_claim(s.phrase(), not s.fits(d, ("shape", "colour")), _seen(d, s.cell),
                            absent=True))
    if objects and all(o.cell is not None for o in objects):  # something where nothing was said
        said = {o.cell for o in objects} | {s.cell for s in source}
        for d in reading.objects:
            if d.cell not in said:
                kept.append(_claim(f"nothing {W.POSITIONS[d.cell]}", False, _seen(d, d.cell)))
    return {"asked": asked, "kept": kept, "seen": describe(reading)}


def describe(reading: W.Reading) -> str:
    """The reading as a caption of the world."""
    found = [_seen(d, d.cell) for d in reading.objects]
    head = ", ".join(found[:-1]) + " and " + found[-1] if len(found) > 1 else "".join(found)
    bg = f"a {reading.background} background"
    return f"{head}, on {bg}" if head else bg
