"""`mtedit bench toy`: multi-turn editing and text-to-image scored against the world's ground truth.

Scenes are drawn from the held-out split (never used in training). Each scene gets a
random sequence of edits; every preset runs it through the same chained loop as the
app: turn k edits the latent of turn k-1 with anchors (source = root latent,
previous = the edited node's latent), no VAE round trip between turns. Per turn:

- success: the edited attribute is right in the decoded image, per `world.detect`;
- preserve_psnr: PSNR over the pixels no edit so far has touched, against the
  ground-truth render of the current scene;
- drift_db: preserve_psnr at turn 1 minus at this turn.

Text to image: captions of other held-out scenes, generated and read back.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence

import numpy as np

from editing_core.presets import PRESETS
from toyworld import world as W
from toyworld.world import heldout_scenes

BASELINES = tuple(p for p in PRESETS if p != "mtc")
DEFAULT_PRESETS = ("mtc", *BASELINES)


def masked_psnr(image, reference, mask: np.ndarray) -> float | None:
    """PSNR in dB over the mask's pixels; None if the mask is empty."""
    if not mask.any():
        return None
    a = np.asarray(image.convert("RGB").resize(reference.size), dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    mse = ((a - b) ** 2)[mask].mean()
    return 100.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def edit_sequences(n: int, turns: int, seed: int, max_objects: int = 2):
    """n held-out scenes, each with `turns` chained random edits (deterministic)."""
    out = []
    for i, scene in enumerate(heldout_scenes(n, seed, max_objects=max_objects)):
        rng = random.Random(f"{seed}-{i}")
        edits, s = [], scene
        for _ in range(turns):
            e = W.random_edit(rng, s, max_objects=max_objects)
            edits.append(e)
            s = e.after
        out.append((scene, edits))
    return out


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def run_edits(backend, sequences, preset: str, *, overrides=None, seed: int = 0,
              tick: Callable[[], None] | None = None) -> dict:  # fmt: skip
    """Chained multi-turn editing of every sequence with one preset."""
    from editing_core import Anchors

    res = W.RESOLUTION
    per_turn: list[dict[str, list]] = [
        {"success": [], "psnr": [], "ops": []} for _ in range(len(sequences[0][1]))
    ]
    for scene, edits in sequences:
        root = backend.encode_image(W.render(scene, res))
        prev, touched = root, np.zeros((res, res), dtype=bool)
        for k, e in enumerate(edits):
            out = backend.edit(prev, W.caption(e.before), W.caption(e.after),
                               anchors=Anchors(source=root, previous=prev), focus_words=e.focus,
                               preset=preset, overrides=overrides, seed=seed + k,
                               output_size=(res, res))  # fmt: skip
            prev = out.latent
            touched |= e.changed_mask(res)
            reading = W.detect(out.image)
            per_turn[k]["success"].append(W.edit_succeeded(reading, e))
            per_turn[k]["psnr"].append(masked_psnr(out.image, W.render(e.after, res), ~touched))
            per_turn[k]["ops"].append(e.op)
            if tick:
                tick()
    turns = []
    for k, t in enumerate(per_turn):
        ops: dict[str, list[bool]] = {}
        for op, ok in zip(t["ops"], t["success"]):
            ops.setdefault(op, []).append(ok)
        turns.append({
            "turn": k + 1,
            "success": sum(t["success"]) / len(t["success"]),
            "preserve_psnr": _mean(t["psnr"]),
            "by_op": {op: sum(v) / len(v) for op, v in sorted(ops.items())},
        })  # fmt: skip
    first = turns[0]["preserve_psnr"]
    for t in turns:
        p = t["preserve_psnr"]
        t["drift_db"] = None if first is None or p is None else first - p
    return {"turns": turns}


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


def vae_psnr(backend, n: int, seed: int = 0) -> float:
    """Encode/decode round trip of held-out renders: the ceiling of preserve_psnr."""
    vals = []
    for s in heldout_scenes(n, seed + 4242):
        img = W.render(s)
        rec = backend.decode_latent(backend.encode_image(img))
        vals.append(masked_psnr(rec, img, np.ones((img.height, img.width), dtype=bool)))
    return sum(vals) / len(vals)


def run(backend, *, scenes: int = 8, turns: int = 5, presets: Sequence[str] = DEFAULT_PRESETS,
        seed: int = 0, t2i: int = 32, t2i_preset: str = "rf", overrides=None,
        progress: Callable[[int, int, str], None] | None = None) -> dict:  # fmt: skip
    """The whole benchmark; returns the JSON-ready figures."""
    if scenes < 1 or turns < 1:
        raise ValueError("--scenes and --turns must be at least 1")
    sequences = edit_sequences(scenes, turns, seed)
    total = len(presets) * scenes * turns + t2i
    done = [0]

    def tick(stage):
        def f():
            done[0] += 1
            if progress:
                progress(done[0], total, stage)
        return f

    t0 = time.perf_counter()
    figures: dict = {"scenes": scenes, "turns": turns, "seed": seed, "presets": {}}
    for p in presets:
        start = time.perf_counter()
        figures["presets"][p] = run_edits(backend, sequences, p, overrides=overrides, seed=seed,
                                          tick=tick(p))  # fmt: skip
        figures["presets"][p]["seconds"] = round(time.perf_counter() - start, 1)
    if t2i:
        figures["t2i"] = run_t2i(backend, t2i, seed=seed, preset=t2i_preset, tick=tick("t2i"))
    else:
        figures["t2i"] = {}
    figures["vae_psnr"] = vae_psnr(backend, 16, seed)
    figures["seconds"] = round(time.perf_counter() - t0, 1)
    return figures


def format_table(figures: dict) -> str:
    """Plain-text summary: one row per preset and turn."""
    lines = ["preset        turn  success  preserve_psnr  drift_db"]
    for name, data in figures["presets"].items():
        for t in data["turns"]:
            p = "-" if t["preserve_psnr"] is None else f"{t['preserve_psnr']:.1f}"
            d = "-" if t["drift_db"] is None else f"{t['drift_db']:+.1f}"
            lines.append(f"{name:<13} {t['turn']:>4}  {t['success']:>7.0%}  {p:>13}  {d:>8}")
    t2i = figures.get("t2i") or {}
    if t2i:
        lines.append(
            f"t2i ({t2i['samples']} captions, {t2i['preset']}): attributes {t2i['attributes']:.0%}, "
            f"background {t2i['background']:.0%}, colour {t2i['colour']:.0%}, "
            f"shape {t2i['shape']:.0%}, size {t2i['size']:.0%}, all right {t2i['all']:.0%}"
        )
    lines.append(f"VAE round trip: {figures['vae_psnr']:.1f} dB")
    return "\n".join(lines)
