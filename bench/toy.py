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
TURN_KEYS = ("turn", "success", "kept", "untouched_psnr", "full_psnr", "full_ssim", "seconds")


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
              seed: int = 0, refs: _Refs | None = None, tick=None) -> dict:  # fmt: skip
    """Chained multi-turn editing of every sequence with one preset: {"turns": [...]}."""
    from editing_core import Anchors
    from editing_core.metrics import psnr, ssim

    if chain not in CHAINS:
        raise ValueError(f"chain must be one of {', '.join(CHAINS)}, not {chain!r}")
    refs = refs or _Refs(backend)
    res = W.RESOLUTION
    n_turns = len(sequences[0][1])
    rows: list[dict[str, list]] = [
        {k: [] for k in ("success", "kept", "attrs", "untouched", "full_psnr", "full_ssim",
                         "seconds", "nfe", "ops")} for _ in range(n_turns)]  # fmt: skip
    for scene, edits in sequences:
        original = refs.render(scene)
        mask = untouched_mask(edits, res)
        root = backend.encode_image(original)
        prev = root
        for k, e in enumerate(edits):
            start = time.perf_counter()
            out = backend.edit(prev, W.caption(e.before), W.caption(e.after),
                               anchors=Anchors(source=root, previous=prev), focus_words=e.focus,
                               preset=preset, overrides=overrides, seed=seed + k,
                               output_size=(res, res))  # fmt: skip
            if chain == "pixel":
                prev = backend.encode_image(jpeg_round_trip(out.image))
            else:
                prev = out.latent
            seconds = time.perf_counter() - start
            truth = refs.render(e.after)
            reading = W.detect(out.image)
            whole, attrs = kept(reading, e.after, refs.reading(e.after))
            r = rows[k]
            r["success"].append(W.edit_succeeded(reading, e))
            r["kept"].append(whole)
            r["attrs"].append(attrs)
            r["untouched"].append(_untouched(out.image, original, mask))
            r["full_psnr"].append(_finite(psnr(truth, out.image)))
            r["full_ssim"].append(ssim(truth, out.image))
            r["seconds"].append(seconds)
            r["nfe"].append(getattr(out, "nfe", 0))
            r["ops"].append(e.op)
            if tick:
                tick()
    turns = []
    for k, r in enumerate(rows):
        ops: dict[str, list[bool]] = {}
        for op, ok in zip(r["ops"], r["success"]):
            ops.setdefault(op, []).append(ok)
        measured = [u for u in r["untouched"] if u is not None]
        turns.append({
            "turn": k + 1,
            "success": _mean(r["success"]),
            "kept": _mean(r["kept"]),
            "untouched_psnr": _mean(r["untouched"]),
            "full_psnr": _mean(r["full_psnr"]),
            "full_ssim": _mean(r["full_ssim"]),
            "seconds": _mean(r["seconds"]),
            "kept_attributes": _mean(r["attrs"]),
            "untouched_scenes": len(measured),
            "nfe": _mean(r["nfe"]),
            "by_op": {op: sum(v) / len(v) for op, v in sorted(ops.items())},
        })  # fmt: skip
    return {"turns": turns}


def _untouched(image, original, mask):
    """untouched_psnr of one image: a seam tests use to see the mask of every turn."""
    return masked_psnr(image, original, mask)


def summary(turns: Sequence[dict]) -> dict:
    """Mean success over the turns, and kept / untouched PSNR at the last turn."""
    last = turns[-1]
    return {"success_mean": _mean([t["success"] for t in turns]), "kept_last": last["kept"],
            "untouched_psnr_last": last["untouched_psnr"], "full_psnr_last": last["full_psnr"],
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
        progress: bool = False) -> list[dict]:  # fmt: skip
    """The whole benchmark: one JSON-ready dict per chain mode."""
    from editing_core.presets import edit_nfe, nfe_overrides, resolve_params

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
                         "turns": turns, "seed": seed, "presets": {}}  # fmt: skip
            for p in presets:
                o, steps, calls = per_preset[p]
                bar.set_description(f"{chain} {p}")
                start = time.perf_counter()
                data = run_edits(backend, sequences, p, chain=chain, overrides=o, seed=seed,
                                 refs=refs, tick=bar.update)  # fmt: skip
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


# ---------------------------------------------------------------- output


def _f(x, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def format_table(fig: dict) -> str:
    """One chain mode: a row per preset and turn, then each preset's summary."""
    budget = "each preset's default steps" if fig["nfe"] is None else f"~{fig['nfe']} NFE per turn"
    lines = [(f"chain {fig['chain']}, {budget}; {fig['scenes']} {fig['split']} scenes x "
              f"{fig['turns']} turns, seed {fig['seed']}"),
             "preset        turn  success  kept  untouched_psnr  full_psnr  full_ssim  seconds"]
    for name, data in fig["presets"].items():
        for t in data["turns"]:
            lines.append(f"{name:<13} {t['turn']:>4}  {t['success']:>7.0%}  {t['kept']:>4.0%}  "
                         f"{_f(t['untouched_psnr'], '.2f'):>14}  {t['full_psnr']:>9.2f}  "
                         f"{t['full_ssim']:>9.3f}  {t['seconds']:>7.2f}")  # fmt: skip
    lines.append("preset        steps  NFE/turn  success (mean)  kept (last)  untouched (last)")
    for name, data in fig["presets"].items():
        s = data["summary"]
        lines.append(f"{name:<13} {data['steps']:>5}  {data['nfe_per_turn']:>8}  "
                     f"{s['success_mean']:>14.0%}  {s['kept_last']:>11.0%}  "
                     f"{_f(s['untouched_psnr_last'], '.2f'):>16}")  # fmt: skip
    t2i = fig.get("t2i") or {}
    if t2i:
        lines.append(
            f"t2i ({t2i['samples']} captions, {t2i['preset']}): attributes {t2i['attributes']:.0%}, "
            f"background {t2i['background']:.0%}, colour {t2i['colour']:.0%}, "
            f"shape {t2i['shape']:.0%}, size {t2i['size']:.0%}, all right {t2i['all']:.0%}"
        )
    lines.append(f"VAE round trip: {fig['vae_psnr']:.1f} dB whole image, "
                 f"{_f(fig['vae_untouched_psnr'], '.1f')} dB over the untouched masks "
                 f"({fig['untouched_share']:.0%} of the pixels, {fig['untouched_scenes']} of "
                 f"{fig['scenes']} scenes)")  # fmt: skip
    return "\n".join(lines)


def plot(figures: Sequence[dict], path) -> None:
    """Untouched PSNR and kept rate against turn, one line per preset, a column per chain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = len(figures)
    fig, axes = plt.subplots(2, cols, figsize=(4.2 * cols, 6.2), squeeze=False, sharey="row")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = list(dict.fromkeys(n for f in figures for n in f["presets"]))
    for c, f in enumerate(figures):
        for i, name in enumerate(names):
            data = f["presets"].get(name)
            if not data:
                continue
            ts = [t["turn"] for t in data["turns"]]
            style = {"color": colours[i % len(colours)], "marker": "o", "markersize": 3,
                     "linewidth": 2.2 if name == "mtc" else 1.2, "label": name}  # fmt: skip
            axes[0][c].plot(ts, [t["untouched_psnr"] for t in data["turns"]], **style)
            axes[1][c].plot(ts, [100 * t["kept"] for t in data["turns"]], **style)
        budget = "default steps" if f["nfe"] is None else f"{f['nfe']} NFE/turn"
        axes[0][c].set_title(f"{f['chain']} chain, {budget}", fontsize=10)
        if f.get("vae_untouched_psnr"):
            axes[0][c].axhline(f["vae_untouched_psnr"], color="grey", linestyle=":",
                               linewidth=1, label="VAE round trip")  # fmt: skip
        axes[1][c].set_xlabel("turn")
        for r in (0, 1):
            axes[r][c].grid(alpha=0.3)
    axes[0][0].set_ylabel("untouched PSNR (dB)")
    axes[1][0].set_ylabel("kept (% of scenes)")
    axes[0][-1].legend(fontsize=8)
    f0 = figures[0]
    fig.suptitle(f"bench toy: {f0['scenes']} {f0['split']} scenes x {f0['turns']} turns",
                 fontsize=11)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
