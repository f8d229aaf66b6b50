"""A small procedurally generated world of shapes on backgrounds, with ground truth.

A `Scene` is a background (colour, plain or striped) and 1-3 objects, each with a
shape, a colour, a size and a cell of a 3x3 grid. `render(scene)` draws it,
`caption(scene)` describes it in plain English, the edit functions return the
edited scene (the ground truth of an edit), and `detect(image)` reads a scene back
from pixels, so that generated and edited images can be judged.

Everything is deterministic: `random_scene(rng)` takes a `random.Random`.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image, ImageDraw

RESOLUTION = 64
SUPERSAMPLE = 4

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (250, 120, 0),
    "yellow": (240, 220, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "purple": (140, 60, 190),
    "white": (245, 245, 245),
    "black": (25, 25, 25),
}
SHAPES = ("circle", "square", "triangle")
SIZES = {"small": 6.0, "large": 9.0}  # half extent in pixels at 64x64
TEXTURES = ("plain", "striped")
# 3x3 grid cells, row-major; the phrase used in captions for each.
POSITIONS = (
    "at the top left", "at the top", "at the top right",
    "on the left", "in the center", "on the right",
    "at the bottom left", "at the bottom", "at the bottom right",
)  # fmt: skip


@dataclass(frozen=True)
class Obj:
    shape: str
    colour: str
    size: str
    cell: int  # 0..8, row-major in the 3x3 grid


@dataclass(frozen=True)
class Scene:
    background: str
    objects: tuple[Obj, ...] = field(default_factory=tuple)
    texture: str = "plain"

    def at(self, cell: int) -> Obj | None:
        return next((o for o in self.objects if o.cell == cell), None)


def cell_centre(cell: int, resolution: int = RESOLUTION) -> tuple[float, float]:
    """(x, y) centre of a grid cell in pixels."""
    step = resolution / 3
    return (cell % 3 + 0.5) * step, (cell // 3 + 0.5) * step


def vocabulary() -> list[str]:
    """Every word a caption or an edit instruction of this world can use."""
    words = set(COLOURS) | set(SHAPES) | set(SIZES) | set(TEXTURES)
    for phrase in POSITIONS:
        words.update(phrase.split())
    words.update(["a", "and", "on", "background", ",", "."])
    return sorted(words)


# ---------------------------------------------------------------- sampling


def random_object(rng: random.Random, background: str, free_cells: list[int]) -> Obj:
    colour = rng.choice([c for c in COLOURS if c != background])
    return Obj(rng.choice(SHAPES), colour, rng.choice(list(SIZES)), rng.choice(free_cells))


def random_scene(
    rng: random.Random, max_objects: int = 2, striped_p: float = 0.2, min_objects: int = 1
) -> Scene:
    background = rng.choice(list(COLOURS))
    texture = "striped" if rng.random() < striped_p else "plain"
    n = rng.randint(min_objects, max_objects)
    objects: list[Obj] = []
    for _ in range(n):
        free = [c for c in range(9) if all(o.cell != c for o in objects)]
        objects.append(random_object(rng, background, free))
    objects.sort(key=lambda o: o.cell)
    return Scene(background, tuple(objects), texture)


# ---------------------------------------------------------------- captions


def describe(obj: Obj) -> str:
    return f"a {obj.size} {obj.colour} {obj.shape} {POSITIONS[obj.cell]}"


def caption(scene: Scene) -> str:
    """Objects in reading order, then the background: 'a small red circle on the left
    and a large blue square on the right, on a green background'."""
    parts = [describe(o) for o in sorted(scene.objects, key=lambda o: o.cell)]
    if len(parts) <= 1:
        head = "".join(parts)
    else:
        head = ", ".join(parts[:-1]) + " and " + parts[-1]
    bg = ("striped " if scene.texture == "striped" else "") + f"{scene.background} background"
    return f"{head}, on a {bg}" if head else f"a {bg}"


# ---------------------------------------------------------------- rendering


def _stripe_shade(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    lum = 0.3 * rgb[0] + 0.59 * rgb[1] + 0.11 * rgb[2]
    target = 0.0 if lum > 90 else 255.0
    return tuple(round(0.82 * c + 0.18 * target) for c in rgb)  # type: ignore[return-value]


def _shape_polygon(shape: str, cx: float, cy: float, r: float):
    if shape == "square":
        return [(cx - r, cy - r), (cx + r, cy + r)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    if shape == "circle":
        return [(cx - r, cy - r), (cx + r, cy + r)]
    raise ValueError(f"unknown shape {shape!r}")


def render(scene: Scene, resolution: int = RESOLUTION) -> Image.Image:
    """Draw the scene, anti-aliased by supersampling."""
    s = SUPERSAMPLE
    big = resolution * s
    bg = COLOURS[scene.background]
    img = Image.new("RGB", (big, big), bg)
    draw = ImageDraw.Draw(img)
    scale = resolution / RESOLUTION
    if scene.texture == "striped":
        shade = _stripe_shade(bg)
        period = 8 * scale * s
        y = period / 2
        while y < big:
            draw.rectangle([0, y, big, y + period / 2 - 1], fill=shade)
            y += period
    for obj in scene.objects:
        cx, cy = cell_centre(obj.cell, resolution)
        r = SIZES[obj.size] * scale
        pts = [(x * s, y * s) for x, y in _shape_polygon(obj.shape, cx, cy, r)]
        fill = COLOURS[obj.colour]
        if obj.shape == "circle":
            draw.ellipse(pts, fill=fill)
        elif obj.shape == "square":
            draw.rectangle(pts, fill=fill)
        else:
            draw.polygon(pts, fill=fill)
    return img.resize((resolution, resolution), Image.Resampling.BOX)


def object_box(obj: Obj, resolution: int = RESOLUTION, margin: float = 2.0):
    """Pixel box (x0, y0, x1, y1), exclusive end, around an object plus a margin."""
    cx, cy = cell_centre(obj.cell, resolution)
    r = SIZES[obj.size] * resolution / RESOLUTION + margin
    lo = lambda v: max(0, int(np.floor(v - r)))
    hi = lambda v: min(resolution, int(np.ceil(v + r)))
    return lo(cx), lo(cy), hi(cx), hi(cy)


def region_mask(objs, resolution: int = RESOLUTION, margin: float = 2.0) -> np.ndarray:
    """Boolean [H, W] mask covering the boxes of the given objects."""
    m = np.zeros((resolution, resolution), dtype=bool)
    for o in objs:
        x0, y0, x1, y1 = object_box(o, resolution, margin)
        m[y0:y1, x0:x1] = True
    return m


def interior_mask(objs, resolution: int = RESOLUTION) -> np.ndarray:
    """Boolean [H, W] mask of pixels fully covered by the given objects."""
    s = SUPERSAMPLE
    img = Image.new("L", (resolution * s, resolution * s), 0)
    draw = ImageDraw.Draw(img)
    for o in objs:
        cx, cy = cell_centre(o.cell, resolution)
        r = SIZES[o.size] * resolution / RESOLUTION
        pts = [(x * s, y * s) for x, y in _shape_polygon(o.shape, cx, cy, r)]
        {"circle": draw.ellipse, "square": draw.rectangle}.get(o.shape, draw.polygon)(pts, fill=255)
    return np.asarray(img.resize((resolution, resolution), Image.Resampling.BOX)) == 255


# ---------------------------------------------------------------- edits


@dataclass(frozen=True)
class Edit:
    """One edit: the op, the scene before and after, and the words it changes."""

    op: str  # recolor | reshape | add | remove | move | resize | background
    before: Scene
    after: Scene
    cell: int | None  # the object's cell after the edit (before it, for remove)
    old_cell: int | None = None
    focus: tuple[str, ...] = ()
    instruction: str = ""

    def changed_mask(self, resolution: int = RESOLUTION) -> np.ndarray:
        """Pixels the edit may change."""
        if self.op == "background":
            return ~interior_mask(self.after.objects, resolution)
        objs = []
        for cell in (self.cell, self.old_cell):
            if cell is None:
                continue
            for sc in (self.before, self.after):
                o = sc.at(cell)
                if o is not None:
                    objs.append(o)
        return region_mask(objs, resolution)


def _swap(scene: Scene, old: Obj | None, new: Obj | None) -> Scene:
    objs = [o for o in scene.objects if o != old]
    if new is not None:
        objs.append(new)
    return replace(scene, objects=tuple(sorted(objs, key=lambda o: o.cell)))


def _change(kind: str, scene: Scene, cell: int, instruction: str, **change) -> Edit:
    """The object at `cell` with one attribute changed (the focus word); `instruction` is
    formatted with the object `o`, its place `where` and the new value `new`."""
    o = scene.at(cell)
    (new,) = change.values()
    return Edit(kind, scene, _swap(scene, o, replace(o, **change)), cell, focus=(new,),
                instruction=instruction.format(o=o, where=POSITIONS[cell], new=new))


def recolor(scene: Scene, cell: int, colour: str) -> Edit:
    return _change("recolor", scene, cell, "make the {o.shape} {where} {new}", colour=colour)


def reshape(scene: Scene, cell: int, shape: str) -> Edit:
    return _change("reshape", scene, cell, "turn the {o.colour} {o.shape} into a {new}",
                   shape=shape)


def resize(scene: Scene, cell: int, size: str) -> Edit:
    return _change("resize", scene, cell, "make the {o.colour} {o.shape} {new}", size=size)


def move(scene: Scene, cell: int, to: int) -> Edit:
    o = scene.at(cell)
    new = replace(o, cell=to)
    return Edit("move", scene, _swap(scene, o, new), to, old_cell=cell,
                focus=tuple(POSITIONS[to].split()[-1:]),
                instruction=f"move the {o.colour} {o.shape} {POSITIONS[to]}")  # fmt: skip


def add(scene: Scene, obj: Obj) -> Edit:
    return Edit("add", scene, _swap(scene, None, obj), obj.cell, focus=(obj.colour, obj.shape),
                instruction=f"add {describe(obj)}")  # fmt: skip


def remove(scene: Scene, cell: int) -> Edit:
    o = scene.at(cell)
    return Edit("remove", scene, _swap(scene, o, None), None, old_cell=cell,
                focus=("background",),
                instruction=f"remove the {o.colour} {o.shape}")  # fmt: skip


def change_background(scene: Scene, colour: str) -> Edit:
    return Edit("background", scene, replace(scene, background=colour), None,
                focus=(colour, "background"),
                instruction=f"make the background {colour}")  # fmt: skip


def random_edit(
    rng: random.Random, scene: Scene, ops: tuple[str, ...] | None = None, max_objects: int = 2
) -> Edit:
    """A random edit that is valid for the scene and keeps it inside the world."""
    used = {o.cell for o in scene.objects}
    free = [c for c in range(9) if c not in used]
    obj_colours = {o.colour for o in scene.objects}
    valid = ["recolor", "reshape", "resize", "move", "background"]
    if len(scene.objects) < max_objects and free:
        valid.append("add")
    if len(scene.objects) > 1:
        valid.append("remove")
    if ops is not None:
        valid = [op for op in valid if op in ops] or ["recolor"]
    op = rng.choice(valid)
    cell = rng.choice(sorted(used)) if used else None
    o = scene.at(cell) if cell is not None else None
    if op == "recolor":
        return recolor(scene, cell, rng.choice(
            [c for c in COLOURS if c not in (o.colour, scene.background)]))  # fmt: skip
    if op == "reshape":
        return reshape(scene, cell, rng.choice([s for s in SHAPES if s != o.shape]))
    if op == "resize":
        return resize(scene, cell, "small" if o.size == "large" else "large")
    if op == "move":
        return move(scene, cell, rng.choice(free))
    if op == "add":
        return add(scene, random_object(rng, scene.background, free))
    if op == "remove":
        return remove(scene, cell)
    return change_background(scene, rng.choice(
        [c for c in COLOURS if c != scene.background and c not in obj_colours]))  # fmt: skip


# ---------------------------------------------------------------- detection


@dataclass(frozen=True)
class Detected:
    shape: str
    colour: str
    size: str
    cell: int
    pixels: int


@dataclass(frozen=True)
class Reading:
    background: str
    objects: tuple[Detected, ...]

    def at(self, cell: int) -> Detected | None:
        return next((o for o in self.objects if o.cell == cell), None)


_PALETTE = np.array(list(COLOURS.values()), dtype=np.float32)
_NAMES = list(COLOURS)


def nearest_colour(rgb) -> str:
    d = ((_PALETTE - np.asarray(rgb, dtype=np.float32)) ** 2).sum(-1)
    return _NAMES[int(d.argmin())]


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected components of a boolean mask, as index arrays (no scipy needed)."""
    h, w = mask.shape
    seen = np.zeros_like(mask)
    comps = []
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        stack, pix = [(y0, x0)], []
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            pix.append((y, x))
            for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                ny, nx = y + dy, x + dx
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        comps.append(np.array(pix))
    return comps


def _template(shape: str, h: int, w: int) -> np.ndarray:
    s = SUPERSAMPLE
    img = Image.new("L", (w * s, h * s), 0)
    d = ImageDraw.Draw(img)
    box = [0, 0, w * s - 1, h * s - 1]
    if shape == "circle":
        d.ellipse(box, fill=255)
    elif shape == "square":
        d.rectangle(box, fill=255)
    else:
        d.polygon([(w * s / 2, 0), (w * s - 1, h * s - 1), (0, h * s - 1)], fill=255)
    return np.asarray(img.resize((w, h), Image.Resampling.BOX)) > 127


def classify_shape(mask: np.ndarray) -> str:
    """Best IoU against circle/square/triangle templates fitted to the mask's box."""
    ys, xs = np.nonzero(mask)
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    best, best_iou = "circle", -1.0
    for shape in SHAPES:
        t = _template(shape, h, w)
        iou = (t & crop).sum() / max(1, (t | crop).sum())
        if iou > best_iou:
            best, best_iou = shape, iou
    return best


def detect(image: Image.Image, threshold: float = 55.0, min_pixels: int = 20) -> Reading:
    """Read the background colour and the objects (shape, colour, size, cell) from pixels."""
    res = image.size[0]
    a = np.asarray(image.convert("RGB").resize((RESOLUTION, RESOLUTION)), dtype=np.float32)
    # Background: the palette colour most pixels are nearest to, border pixels weighted.
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    names = [nearest_colour(p) for p in border]
    background = max(set(names), key=names.count)
    bg = np.array(COLOURS[background], dtype=np.float32)
    shade = np.array(_stripe_shade(COLOURS[background]), dtype=np.float32)
    dist = np.minimum(np.linalg.norm(a - bg, axis=-1), np.linalg.norm(a - shade, axis=-1))
    fg = dist > threshold
    objects = []
    for comp in _components(fg):
        if len(comp) < min_pixels:
            continue
        m = np.zeros(fg.shape, dtype=bool)
        m[comp[:, 0], comp[:, 1]] = True
        ys, xs = comp[:, 0], comp[:, 1]
        extent = max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
        size = "large" if extent > (SIZES["small"] + SIZES["large"]) else "small"
        cy, cx = (ys.min() + ys.max() + 1) / 2, (xs.min() + xs.max() + 1) / 2
        cell = int(min(2, cy // (RESOLUTION / 3)) * 3 + min(2, cx // (RESOLUTION / 3)))
        colour = nearest_colour(np.median(a[ys, xs], axis=0))
        objects.append(Detected(classify_shape(m), colour, size, cell, len(comp)))
    del res
    objects.sort(key=lambda o: (o.cell, -o.pixels))
    return Reading(background, tuple(objects))


def matches(reading: Reading, obj: Obj) -> dict[str, bool]:
    """Which attributes of a ground-truth object the reading gets right at its cell."""
    d = reading.at(obj.cell)
    if d is None:
        return {"present": False, "colour": False, "shape": False, "size": False}
    return {"present": True, "colour": d.colour == obj.colour, "shape": d.shape == obj.shape,
            "size": d.size == obj.size}  # fmt: skip


def edit_succeeded(reading: Reading, edit: Edit) -> bool:
    """Did the image get the edited attribute right, per the detector?"""
    after = edit.after
    if edit.op == "background":
        return reading.background == after.background
    if edit.op == "remove":
        return reading.at(edit.old_cell) is None
    o = after.at(edit.cell)
    m = matches(reading, o)
    if edit.op == "recolor":
        return m["present"] and m["colour"]
    if edit.op == "reshape":
        return m["present"] and m["shape"]
    if edit.op == "resize":
        return m["present"] and m["size"]
    if edit.op == "move":
        return m["present"] and m["colour"] and reading.at(edit.old_cell) is None
    if edit.op == "add":
        return m["present"] and m["colour"] and m["shape"]
    raise ValueError(edit.op)


def scene_accuracy(reading: Reading, scene: Scene) -> dict[str, float]:
    """Per-attribute agreement of a reading with a scene (for text-to-image)."""
    per = [matches(reading, o) for o in scene.objects]
    n = max(1, len(per))
    out = {
        "background": float(reading.background == scene.background),
        "count": float(len(reading.objects) == len(scene.objects)),
    }
    for key in ("present", "colour", "shape", "size"):
        out[key] = sum(p[key] for p in per) / n
    out["all"] = float(out["background"] == 1 and out["count"] == 1
                       and all(all(p.values()) for p in per))  # fmt: skip
    return out


# ---------------------------------------------------------------- the train / held-out split


def is_heldout(text: str) -> bool:
    """About 1 scene in 10 (by a stable hash of its caption) is never used for training:
    the trainer draws from `training_scenes`, every benchmark from `heldout_scenes`."""
    return zlib.crc32(text.encode()) % 10 == 0


def training_scenes(n: int, seed: int, max_objects: int = 2, striped_p: float = 0.2):
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        s = random_scene(rng, max_objects=max_objects, striped_p=striped_p)
        if not is_heldout(caption(s)):
            out.append(s)
    return out


def heldout_scenes(n: int, seed: int, max_objects: int = 2, striped_p: float = 0.2):
    rng = random.Random(10_000_019 + seed)
    out = []
    while len(out) < n:
        s = random_scene(rng, max_objects=max_objects, striped_p=striped_p)
        if is_heldout(caption(s)):
            out.append(s)
    return out
