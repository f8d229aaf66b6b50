"""`mtedit bench toy`: multi-turn edits and text-to-image, scored by the toy world's ground truth.

Built so that drift over many turns is visible:

- Scenes come from the held-out split (never trained on). `split="tuning"` draws a
  disjoint set from the same split (another seed range, minus every caption of the
  benchmark's first 1,024 scenes) for tuning presets without touching the benchmark.
- Every scene gets `turns` chained edits. Edit types follow a fixed rotation, so every
  turn has the same mix: scene i at turn k takes slot (i + k) mod 6 of recolour,
  reshape, resize, move, add-or-remove (add when the scene has room, else remove),
  background. A background edit changes every pixel outside the objects, which would
  leave nothing "untouched" for the rest of the sequence, so alternate blocks of six
  scenes (i // 6 even) are object-only sequences: their background slot is a recolour.
  The choices inside an edit (which object, which colour) are seeded per scene and turn.
- Every preset runs the same sequences through the app's loop: turn k edits the result
  of turn k - 1 with anchors (source = the original's latent, previous = the latent
  being edited). `chain="latent"` passes the clean latent on (the product);
  `chain="pixel"` decodes each result, saves it as JPEG quality 75, loads it and
  encodes it again (the authors' demo, and any tool whose users download and upload).

Per preset and turn (means over scenes):

- success: this turn's edit is right in the decoded image, per `world.detect`;
- kept: the whole current ground-truth scene is read back right (background, every
  object's presence, colour, shape and size, and no object where there is none), so an
  earlier edit undone later counts against it. Only attributes the detector reads right
  on the VAE round trip of the ground-truth render are counted: the VAE sets no ceiling;
- untouched_psnr: PSNR against the original render over ONE mask per sequence, the
  pixels no edit of the whole sequence touches: the same pixels at every turn;
- full_psnr, full_ssim: the whole image against the ground-truth render of the
  current scene;
- seconds: wall time of one turn (with the re-encoding in pixel mode); nfe: model calls.

`region="auto"|"truth"` limits every edit to a mask (bench/toy_regions.py: which mask,
and the mask figures mask_iou, mask_recall, exact_fraction, seam_delta); outside it each
turn keeps the previous turn's image exactly. In the pixel chain the model still inverts
the JPEG copy, while the image kept and pasted over is the lossless result, as a product
that stores its images and re-encodes a user's download would. untouched_psnr_pooled is
the PSNR of the squared error pooled over scenes (the mean of per-scene PSNRs counts a
scene whose untouched pixels are all exact as 100 dB).

`nfe=N` runs every preset at (as near as its solver allows) N model calls per turn.

Scoring is on ground truth only. The chat's check of a result (toyworld/reader.py, the
bundled model's reader, which reads the target caption) shares one piece of code with
this scorer, the detector `world.detect`; the decision is its own (caption against
reading) where this file's is `world.edit_succeeded` against the true `Edit`. Nothing
here calls the reader, and no edit is retried until either of them agrees.
"""

from __future__ import annotations

import io
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from editing_core.presets import PRESETS
from toyworld import world as W
from toyworld.world import heldout_scenes

BASELINES = tuple(p for p in PRESETS if p != "mtc")
DEFAULT_PRESETS = ("mtc", *BASELINES)
CHAINS = ("latent", "pixel")
SLOTS = ("recolor", "reshape", "resize", "move", "count", "background")
SPLITS = ("heldout", "tuning")
JPEG_QUALITY = 75
TUNING_SEED_OFFSET = 1_000_000
BENCH_GUARD = 1024  # tuning scenes avoid the captions of this many benchmark scenes
TURN_KEYS = ("turn", "success", "kept", "untouched_psnr", "full_psnr", "full_ssim", "seconds",
             "mask_iou", "mask_recall", "exact_fraction", "seam_delta")


# ---------------------------------------------------------------- sequences


def masked_psnr(image, reference, mask: np.ndarray) -> float | None:
    """PSNR in dB over the mask's pixels; None if the mask is empty (100 when identical)."""
    if not mask.any():
        return None
    a = np.asarray(image.convert("RGB").resize(reference.size), dtype=np.float64)
    b = np.asarray(reference.convert("RGB"), dtype=np.float64)
    mse = ((a - b) ** 2)[mask].mean()
    return 100.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def scenes_for(n: int, seed: int, split: str = "heldout", max_objects: int = 2):
    """The benchmark's held-out scenes, or the disjoint tuning scenes."""
    if split == "heldout":
        return heldout_scenes(n, seed, max_objects=max_objects)
    if split != "tuning":
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    taken = {W.caption(s) for s in heldout_scenes(BENCH_GUARD, seed, max_objects=max_objects)}
    out, batch = [], n
    while len(out) < n:
        pool = heldout_scenes(len(out) + batch, seed + TUNING_SEED_OFFSET, max_objects=max_objects)
        out = [s for s in pool if W.caption(s) not in taken]
        batch *= 2
    return out[:n]


def slot_for(scene_index: int, turn_index: int) -> str:
    """The rotation: the edit type of scene i at turn k (0-based)."""
    slot = SLOTS[(scene_index + turn_index) % len(SLOTS)]
    if slot == "background" and (scene_index // len(SLOTS)) % 2 == 0:
        return "recolor"  # an object-only sequence
    return slot


def edit_for_slot(rng: random.Random, scene: W.Scene, slot: str, max_objects: int = 2) -> W.Edit:
    op = slot
    if slot == "count":
        free = len(scene.objects) < max_objects
        op = "add" if free else "remove"
    return W.random_edit(rng, scene, ops=(op,), max_objects=max_objects)


def edit_sequences(n: int, turns: int, seed: int, split: str = "heldout", max_objects: int = 2):
    """n scenes, each with `turns` chained edits from the rotation (deterministic)."""
    if n < 1 or turns < 1:
        raise ValueError("scenes and turns must be at least 1")
    out = []
    for i, scene in enumerate(scenes_for(n, seed, split, max_objects)):
        edits, s = [], scene
        for k in range(turns):
            rng = random.Random(f"{seed}-{split}-{i}-{k}")
            e = edit_for_slot(rng, s, slot_for(i, k), max_objects)
            edits.append(e)
            s = e.after
        out.append((scene, edits))
    return out


def untouched_mask(edits: Sequence[W.Edit], resolution: int = W.RESOLUTION) -> np.ndarray:
    """The pixels no edit of the whole sequence may change: one mask for every turn."""
    touched = np.zeros((resolution, resolution), dtype=bool)
    for e in edits:
        touched |= e.changed_mask(resolution)
    return ~touched


# ---------------------------------------------------------------- scoring


def scene_checks(reading: W.Reading, scene: W.Scene) -> dict[str, bool]:
    """Every attribute of a ground-truth scene, right or wrong in a reading."""
    checks = {"background": reading.background == scene.background}
    cells = {o.cell for o in scene.objects}
    for o in scene.objects:
        for attr, ok in W.matches(reading, o).items():
            checks[f"{o.cell}:{attr}"] = ok
    for cell in range(9):
        if cell not in cells:
            checks[f"{cell}:empty"] = reading.at(cell) is None
    return checks


def kept(reading: W.Reading, scene: W.Scene, reference: W.Reading) -> tuple[bool, float]:
    """(whole scene right, share of attributes right), counting only the attributes the
    reference reading (the ground truth's VAE round trip) gets right."""
    ref = scene_checks(reference, scene)
    got = scene_checks(reading, scene)
    countable = [k for k, ok in ref.items() if ok]
    right = [got[k] for k in countable]
    return all(right), (sum(right) / len(right) if right else 1.0)


def jpeg_round_trip(image: Image.Image, quality: int = JPEG_QUALITY) -> Image.Image:
    """Save as JPEG and load again, as a user's download and re-upload does."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out


def _finite(x: float) -> float:
    return 100.0 if not math.isfinite(x) else x


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


@dataclass
class _Refs:
    """Per-run caches shared by presets and chain modes."""

    backend: object

    def __post_init__(self):
        self._renders: dict[str, Image.Image] = {}
        self._readings: dict[str, W.Reading] = {}

    def render(self, scene: W.Scene) -> Image.Image:
        key = W.caption(scene)
        if key not in self._renders:
            self._renders[key] = W.render(scene)
        return self._renders[key]

    def reading(self, scene: W.Scene) -> W.Reading:
        """What the detector reads on the VAE round trip of the ground-truth render."""
        key = W.caption(scene)
        if key not in self._readings:
            b = self.backend
            self._readings[key] = W.detect(b.decode_latent(b.encode_image(self.render(scene))))
        return self._readings[key]


# ---------------------------------------------------------------- running


def run_edits(backend, sequences, preset: str, *, chain: str = "latent", overrides=None,
              seed: int = 0, refs: _Refs | None = None, tick=None, region: str = "none",
              background: str = "region") -> dict:  # fmt: skip
    """Chained multi-turn editing of every sequence with one preset: {"turns": [...]}.

    region: none | auto | truth, the mask each edit gets (bench/toy_regions.py); with a
    region, each turn is composited over the previous turn's image (in the pixel chain
    too: the JPEG copy is what the model inverts, the lossless image what is kept)."""
    from bench import toy_regions as R
    from editing_core import Anchors

    if chain not in CHAINS:
        raise ValueError(f"chain must be one of {', '.join(CHAINS)}, not {chain!r}")
    if region not in R.MODES:
        raise ValueError(f"region must be one of {', '.join(R.MODES)}, not {region!r}")
    refs = refs or _Refs(backend)
    res = W.RESOLUTION
    n_turns = len(sequences[0][1])
    rows: list[dict[str, list]] = [{k: [] for k in _ROW_KEYS} for _ in range(n_turns)]
    for scene, edits in sequences:
        original = refs.render(scene)
        mask = untouched_mask(edits, res)
        root = backend.encode_image(original)
        prev, prev_img = root, original
        used, images = [], []
        for k, e in enumerate(edits):
            start = time.perf_counter()
            reg = R.region_for(backend, region, e, prev, seed=seed + k, background=background)
            if reg is not None and reg.empty:  # nothing found to change: the edit is not run
                out = _Unchanged(prev, prev_img)
            else:
                extra = {} if reg is None else {"region": reg, "previous_image": prev_img}
                out = backend.edit(prev, W.caption(e.before), W.caption(e.after),
                                   anchors=Anchors(source=root, previous=prev),
                                   focus_words=e.focus, preset=preset, overrides=overrides,
                                   seed=seed + k, output_size=(res, res), **extra)  # fmt: skip
            if chain == "pixel":
                nxt = backend.encode_image(jpeg_round_trip(out.image))
            else:
                nxt = out.latent
            seconds = time.perf_counter() - start
            r = rows[k]
            _score(r, out.image, e, refs, original, mask)
            r["seconds"].append(seconds)
            r["nfe"].append(getattr(out, "nfe", 0))
            r["region_nfe"].append(getattr(reg, "nfe", 0))
            if reg is not None:
                _score_region(r, reg, e, out.image, prev_img)
            used.append(None if reg is None else reg.mask)
            images.append(out.image)
            prev, prev_img = nxt, out.image
            if tick:
                tick()
        outside = R.outside_every_mask(used, edits, region)
        for k, x in enumerate(R.exact_fractions(images, original, outside)):
            rows[k]["exact"].append(x)
    return {"turns": [_turn_figures(k, r) for k, r in enumerate(rows)], "region": region}


_ROW_KEYS = ("success", "kept", "attrs", "untouched", "untouched_err", "full_psnr", "full_ssim",
             "seconds", "nfe", "region_nfe", "ops", "iou", "recall", "coverage", "seam",
             "empty", "most", "exact")  # fmt: skip


class _Unchanged:
    """The turn's result when its region is empty: the previous latent and image."""

    def __init__(self, latent, image):
        self.latent, self.image, self.nfe = latent, image, 0


def _score(r: dict, image, e: W.Edit, refs: _Refs, original, mask) -> None:
    from bench import toy_regions as R
    from editing_core.metrics import psnr, ssim

    reading = W.detect(image)
    whole, attrs = kept(reading, e.after, refs.reading(e.after))
    truth = refs.render(e.after)
    r["success"].append(W.edit_succeeded(reading, e))
    r["kept"].append(whole)
    r["attrs"].append(attrs)
    r["untouched"].append(_untouched(image, original, mask))
    r["untouched_err"].append(R.squared_error(image, original, mask))
    r["full_psnr"].append(_finite(psnr(truth, image)))
    r["full_ssim"].append(ssim(truth, image))
    r["ops"].append(e.op)


def _score_region(r: dict, reg, e: W.Edit, image, previous) -> None:
    from bench import toy_regions as R
    from editing_core.composite import seam_delta

    iou, recall = R.mask_scores(reg.mask, e)
    r["iou"].append(iou)
    r["recall"].append(recall)
    r["coverage"].append(reg.coverage)
    r["seam"].append(None if reg.empty else seam_delta(image, previous, reg.mask))
    r["empty"].append(reg.empty)
    r["most"].append(reg.covers_most and R.scope_for(e) == "local")


def _turn_figures(k: int, r: dict) -> dict:
    from bench import toy_regions as R

    ops: dict[str, list[bool]] = {}
    for op, ok in zip(r["ops"], r["success"]):
        ops.setdefault(op, []).append(ok)
    measured = [u for u in r["untouched"] if u is not None]
    return {
        "turn": k + 1,
        "success": _mean(r["success"]),
        "kept": _mean(r["kept"]),
        "untouched_psnr": _mean(r["untouched"]),
        "full_psnr": _mean(r["full_psnr"]),
        "full_ssim": _mean(r["full_ssim"]),
        "seconds": _mean(r["seconds"]),
        "mask_iou": _mean(r["iou"]),
        "mask_recall": _mean(r["recall"]),
        "exact_fraction": _mean(r["exact"]),
        "seam_delta": _mean(r["seam"]),
        "kept_attributes": _mean(r["attrs"]),
        "untouched_scenes": len(measured),
        "untouched_psnr_pooled": R.pooled_psnr([x for x in r["untouched_err"] if x is not None]),
        "mask_coverage": _mean(r["coverage"]),
        "masks": len(r["iou"]),
        "masks_empty": sum(r["empty"]),
        "masks_most": sum(r["most"]),
        "exact_scenes": sum(x is not None for x in r["exact"]),
        "nfe": _mean(r["nfe"]),
        "region_nfe": _mean(r["region_nfe"]),
        "by_op": {op: sum(v) / len(v) for op, v in sorted(ops.items())},
    }  # fmt: skip


def _untouched(image, original, mask):
    """untouched_psnr of one image: a seam tests use to see the mask of every turn."""
    return masked_psnr(image, original, mask)


def summary(turns: Sequence[dict]) -> dict:
    """Mean success over the turns, kept / untouched PSNR at the last turn; with regions,
    the mean mask IoU and seam step, and the exact fraction at the last turn."""
    last = turns[-1]
    return {"success_mean": _mean([t["success"] for t in turns]), "kept_last": last["kept"],
            "untouched_psnr_last": last["untouched_psnr"], "full_psnr_last": last["full_psnr"],
            "untouched_psnr_pooled_last": last.get("untouched_psnr_pooled"),
            "mask_iou_mean": _mean([t.get("mask_iou") for t in turns]),
            "seam_delta_mean": _mean([t.get("seam_delta") for t in turns]),
            "exact_fraction_last": last.get("exact_fraction"),
            "seconds_mean": _mean([t["seconds"] for t in turns])}  # fmt: skip


def run_t2i(backend, n: int, *, seed: int = 0, preset: str = "rf", overrides=None,
            tick=None) -> dict:  # fmt: skip
    """Generate held-out captions and read the attributes back."""
    scenes = heldout_scenes(n, seed + 7777)
    keys = ("background", "count", "present", "colour", "shape", "size", "all")
    acc: dict[str, list[float]] = {k: [] for k in keys}
    for i, s in enumerate(scenes):
        out = backend.generate(W.caption(s), width=W.RESOLUTION, height=W.RESOLUTION,
                               preset=preset, overrides=overrides, seed=seed + i)  # fmt: skip
        for k, v in W.scene_accuracy(W.detect(out.image), s).items():
            acc[k].append(v)
        if tick:
            tick()
    figures = {k: sum(v) / len(v) for k, v in acc.items()}
    # Attribute accuracy: background, and each object's colour, shape and size.
    figures["attributes"] = (figures["background"] + figures["colour"] + figures["shape"]
                             + figures["size"]) / 4  # fmt: skip
    figures["samples"] = n
    figures["preset"] = preset
    return figures


def vae_ceilings(backend, sequences, refs: _Refs) -> dict:
    """The VAE round trip of the originals: PSNR of the whole image and over the
    untouched masks, the ceilings of full_psnr and untouched_psnr."""
    full, untouched, share = [], [], []
    for scene, edits in sequences:
        img = refs.render(scene)
        rec = backend.decode_latent(backend.encode_image(img))
        mask = untouched_mask(edits)
        full.append(masked_psnr(rec, img, np.ones(mask.shape, dtype=bool)))
        untouched.append(masked_psnr(rec, img, mask))
        share.append(float(mask.mean()))
    return {"vae_psnr": _mean(full), "vae_untouched_psnr": _mean(untouched),
            "untouched_share": _mean(share),
            "untouched_scenes": sum(u is not None for u in untouched)}  # fmt: skip


def run(backend, *, scenes: int = 64, turns: int = 10, presets: Sequence[str] = DEFAULT_PRESETS,
        chains: Sequence[str] = ("latent",), nfe: int | None = None, seed: int = 0,
        split: str = "heldout", t2i: int = 32, t2i_preset: str = "rf", overrides=None,
        region: str = "none", background: str = "region",
        progress: bool = False) -> list[dict]:  # fmt: skip
    """The whole benchmark: one JSON-ready dict per chain mode."""
    from bench.toy_regions import BACKGROUND, MODES
    from editing_core.presets import edit_nfe, nfe_overrides, resolve_params

    if region not in MODES:
        raise ValueError(f"--region must be one of {', '.join(MODES)}, not {region!r}")
    if background not in BACKGROUND:
        raise ValueError(f"background must be one of {', '.join(BACKGROUND)}, not {background!r}")

    if scenes < 1 or turns < 1:
        raise ValueError("--scenes and --turns must be at least 1")
    bad = [c for c in chains if c not in CHAINS]
    if bad or not chains:
        raise ValueError(f"chain must be latent, pixel or both, not {', '.join(bad) or 'none'}")
    overrides = dict(overrides or {})
    if nfe is not None and "steps" in overrides:
        raise ValueError("--nfe sets every preset's steps: do not give --steps too")
    per_preset = {}
    for p in presets:
        o = overrides
        if nfe is not None:
            o = nfe_overrides(p, nfe, overrides)
        params = resolve_params(p, o)  # bad names and values fail before any model call
        per_preset[p] = (o, params["steps"], edit_nfe(params))
    sequences = edit_sequences(scenes, turns, seed, split)
    refs = _Refs(backend)

    from tqdm import tqdm

    total = len(chains) * len(presets) * scenes * turns + t2i
    bar = tqdm(total=total, disable=not progress, file=sys.stderr, unit="edit",
               dynamic_ncols=True)  # fmt: skip
    t0 = time.perf_counter()
    out = []
    try:
        for chain in chains:
            fig: dict = {"chain": chain, "nfe": nfe, "split": split, "scenes": scenes,
                         "turns": turns, "seed": seed, "region": region, "presets": {}}
            if region == "auto":
                fig["background"] = background
            for p in presets:
                o, steps, calls = per_preset[p]
                bar.set_description(f"{chain} {p}")
                start = time.perf_counter()
                data = run_edits(backend, sequences, p, chain=chain, overrides=o, seed=seed,
                                 refs=refs, tick=bar.update, region=region,
                                 background=background)  # fmt: skip
                data.update(steps=steps, nfe_per_turn=calls,
                            seconds=round(time.perf_counter() - start, 1),
                            summary=summary(data["turns"]))  # fmt: skip
                fig["presets"][p] = data
            out.append(fig)
        t2i_fig: dict = {}
        if t2i:
            bar.set_description("t2i")
            t2i_fig = run_t2i(backend, t2i, seed=seed, preset=t2i_preset, tick=bar.update)
    finally:
        bar.close()
    ceilings = vae_ceilings(backend, sequences, refs)
    for fig in out:
        fig["t2i"] = t2i_fig
        fig.update(ceilings)
        fig["seconds"] = round(time.perf_counter() - t0, 1)
    return out




from bench.toy_report import format_table, plot  # noqa: F401  (the CLI's names)
