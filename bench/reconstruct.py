"""Multi-turn benchmarks: reconstruction drift and scripted edit sequences.

Both report, per preset and turn, PSNR and SSIM against the original image, the model
calls (NFE) and seconds; also PSNR against the VAE round trip of the original
(`psnr_vae`: drift of the editing loop alone) and the RMSE of the clean latent against
the original's (`latent_rmse`), and per preset the overhead ratio

    overhead = seconds per turn / (NFE x seconds of one bare transformer forward)

with the bare forward timed in the same run at the same latent size: 1.0 means the
turn costs exactly its transformer calls; the rest is text encoding, VAE, solver
arithmetic, control and attention-hook work.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from PIL import Image

from editing_core.backend import Anchors, FluxBackend
from editing_core.images import load_image, to_rgb
from editing_core.metrics import psnr, ssim


def calibration_card(side: int = 256):
    """A deterministic picture with edges, gradients and flat areas, for smoke benchmarks."""
    import numpy as np
    from PIL import Image, ImageDraw

    y, x = np.mgrid[0:side, 0:side] / side
    arr = np.stack([x, y, 0.5 + 0.5 * np.sin(6 * x + 4 * y)], -1) * 255
    img = Image.fromarray(arr.astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    d.ellipse([side * 0.15, side * 0.2, side * 0.55, side * 0.6], fill=(220, 40, 40))
    d.rectangle([side * 0.6, side * 0.55, side * 0.9, side * 0.85], fill=(30, 60, 200))
    return img


def toy_scene():
    """A two-object held-out scene of the bundled model's world (its default test image)."""
    from toyworld.world import heldout_scenes

    return next(s for s in heldout_scenes(16, 0) if len(s.objects) == 2)


def format_table(figures: dict) -> str:
    """PSNR against the original per preset at turns 1, 3, 5 and the last."""
    names = list(figures["presets"])
    n = len(figures["presets"][names[0]]["turns"])
    picks = sorted({t for t in (1, 3, 5, n) if t <= n})
    head = "  ".join(f"turn {t:>2}" for t in picks)
    lines = [f"PSNR vs the original (dB), {figures['chain']} chain", f"preset        {head}"]
    for name in names:
        turns = figures["presets"][name]["turns"]
        lines.append(f"{name:<13} " + "  ".join(f"{turns[t - 1]['psnr']:>7.2f}" for t in picks))
    return "\n".join(lines)


def _turns(backend: FluxBackend, original: Image.Image, plan: Sequence[dict], preset: str,
           overrides: Mapping | None, chain: str, seed: int, log: Callable | None) -> list[dict]:
    """Run `plan` (dicts with source, target, focus) as consecutive turns from `original`."""
    if chain not in ("latent", "pixel"):
        raise ValueError("chain must be 'latent' or 'pixel'")
    root = backend.encode_image(original)
    # The VAE's own loss, shared by every preset: drift is measured against this too.
    vae_round_trip = backend.decode_latent(root, original.size)
    current, rows = root, []
    for i, turn in enumerate(plan, start=1):
        start = time.perf_counter()
        source = current
        if chain == "pixel" and i > 1:  # the authors' demo: decode, JPEG quality 75, encode
            from bench.toy import jpeg_round_trip

            source = backend.encode_image(jpeg_round_trip(rows[-1]["_image"]))
        result = backend.edit(source, turn["source"], turn["target"],
                              anchors=Anchors(source=root, previous=source),
                              focus_words=turn.get("focus", ()), preset=preset,
                              overrides=overrides, seed=seed, output_size=original.size)
        seconds = time.perf_counter() - start
        row = {"turn": i, "psnr": _num(psnr(original, result.image)),
               "ssim": _num(ssim(original, result.image)),
               "psnr_vae": _num(psnr(vae_round_trip, result.image)),
               "latent_rmse": round(float((result.latent - root).pow(2).mean().sqrt()), 6),
               "nfe": result.nfe,
               "seconds": round(seconds, 4), "_image": result.image}
        rows.append(row)
        current = result.latent
        if log:
            log(f"{preset:>12} turn {i}: PSNR {row['psnr']:.2f} dB  SSIM {row['ssim']:.4f}  "
                f"(vs VAE round trip {row['psnr_vae']:.2f} dB, latent RMSE "
                f"{row['latent_rmse']:.4f})  NFE {row['nfe']}  {seconds:.2f} s")
    return rows


def _num(x: float) -> float:
    return round(x, 4) if math.isfinite(x) else 99.0


def run(backend: FluxBackend, image, plan: Sequence[dict], presets: Sequence[str], *,
        overrides: Mapping | None = None, chain: str = "latent", seed: int = 0,
        log: Callable | None = print, overhead: bool = True) -> dict:
    """Run the same turn plan under each preset: {"presets": {name: {"turns", "overhead"}}}.

    overhead=False skips the bare-forward timings (the overheads are then None).
    """
    original = to_rgb(load_image(image))
    grid_img, _ = backend.prepare_image(original)
    lh, lw = grid_img.height // backend.vae_scale_factor, grid_img.width // backend.vae_scale_factor
    text_len = backend.text_length()
    # Bare forwards are timed before every preset and once at the end; the best of them
    # stands for the model's cost (on a shared machine other processes only add time).
    def time_forward():
        if overhead:
            forwards.append(backend.time_forward((lh, lw), repeats=3, text_len=text_len))

    forwards: list[float] = []
    time_forward()
    out: dict = {"presets": {}, "chain": chain,
                 "image_size": list(original.size), "model_grid": [grid_img.width, grid_img.height],
                 "device": str(backend.device), "dtype": str(backend.dtype).removeprefix("torch.")}
    for i, name in enumerate(presets):
        if i:
            time_forward()
        out["presets"][name] = {"turns": _turns(backend, original, plan, name, overrides, chain,
                                                seed, log)}
    time_forward()
    forward = min(forwards) if forwards else 0.0
    out["forward_seconds"] = round(forward, 6) if forwards else None
    for name, entry in out["presets"].items():
        rows = entry["turns"]
        for r in rows:
            r.pop("_image")
        per_turn = sum(r["seconds"] for r in rows) / len(rows)
        nfe = sum(r["nfe"] for r in rows) / len(rows)
        ratio = per_turn / (nfe * forward) if nfe and forward > 0 else None
        entry["overhead"] = round(ratio, 3) if ratio else None
        if log and ratio:
            log(f"{name:>12} overhead {ratio:.2f} x (NFE x {forward * 1000:.2f} ms bare forward)")
    return out


def reconstruct(backend: FluxBackend, image, prompt: str, turns: int, presets: Sequence[str],
                **kw) -> dict:
    """M-turn reconstruction: invert and regenerate with the same prompt, chained `turns` times."""
    if turns < 1:
        raise ValueError("turns must be at least 1")
    plan = [{"source": prompt, "target": prompt, "focus": ()} for _ in range(turns)]
    return run(backend, image, plan, presets, **kw)


def load_script(path: str | Path) -> dict:
    """An edit script (YAML): {image?, source, turns: [{target, focus?, source?}]}.

    Each turn's source prompt defaults to the previous turn's target (the caption of the
    image being edited); the first defaults to the script's `source`.
    """
    import yaml

    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list) or not data["turns"]:
        raise ValueError(f"{path}: expected a mapping with a non-empty 'turns' list")
    caption = str(data.get("source", ""))
    plan = []
    for i, turn in enumerate(data["turns"], start=1):
        if isinstance(turn, str):
            turn = {"target": turn}
        if not isinstance(turn, dict) or not str(turn.get("target", "")).strip():
            raise ValueError(f"{path}: turn {i} needs a 'target' prompt")
        focus = turn.get("focus", ())
        focus = [focus] if isinstance(focus, str) else list(focus or ())
        plan.append({"source": str(turn.get("source", caption)), "target": str(turn["target"]),
                     "focus": focus})
        caption = str(turn["target"])
    return {"image": data.get("image"), "plan": plan}
