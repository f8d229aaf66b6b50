"""Automatic regions from the edit itself, for any model and any preset.

Two maps of where the edit acts, both read from the model at a few noise levels of the
image being edited (x_t = (1 - t) x0 + t e for `draws` seeded noises e at each of `times`,
one batched forward per prompt):

- velocity (DiffEdit's idea on a flow model): |v(x_t, t, target) - v(x_t, t, source)|,
  the channel norm per latent pixel, averaged over the draws and times. Where the two
  prompts agree the model predicts the same velocity; where they differ it does not.
- attention: the focus words' heat over the image tokens in the double-stream blocks,
  as highlighting computes it (`highlight.ranked_mean` of the per-block maps), read in
  the same target forward (no extra model call).

Each map is divided by its maximum, brought to image resolution (bilinear), combined
(`combine`), thresholded and grown by `grow` pixels. The mask is never widened when it
comes out empty or small: `Region.status` says so and the caller decides.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from editing_core.region import Region, dilate

METHODS = ("velocity", "attention", "both")
# Measured on the bundled model's tuning scenes (toyworld/model/README.md, "Regions").
DEFAULTS: dict = {"method": "velocity", "times": (0.5, 0.7), "draws": 4, "threshold": 0.25,
                  "grow": 2, "guidance": 3.5}


def _normalise(m: torch.Tensor) -> torch.Tensor:
    top = float(m.max()) if m.numel() else 0.0
    return m / top if top > 0 else torch.zeros_like(m)


def _upsample(m: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    up = F.interpolate(m[None, None].float(), size=(h, w), mode="bilinear", align_corners=False)
    return up[0, 0].clamp(0, 1).numpy()


@torch.no_grad()
def edit_maps(backend, x0: torch.Tensor, source_prompt: str, target_prompt: str,
              focus_words=(), *, seed: int = 0, times=DEFAULTS["times"],
              draws: int = DEFAULTS["draws"], guidance: float = DEFAULTS["guidance"],
              attention: bool = True) -> dict:
    """{"velocity": [h, w] latent map, "attention": [h/2, w/2] token map or None,
    "focus": what was attended, "nfe": velocity evaluations}; maps normalised to [0, 1]."""
    from editing_core.latents import flux_velocity, image_ids, pack, unpack

    _, c, h, w = x0.shape
    times = [float(t) for t in times]
    if not times or any(not 0.0 < t <= 1.0 for t in times) or draws < 1:
        raise ValueError("auto region: times must lie in (0, 1] and draws be at least 1")
    text_len = backend.text_length()
    emb_src = backend.encode_prompt(source_prompt or "", text_len)
    emb_tgt = backend.encode_prompt(target_prompt, text_len)
    g = torch.Generator("cpu").manual_seed(int(seed))
    noise = torch.randn((draws, c, h, w), generator=g)
    t_all = torch.tensor([t for t in times for _ in range(draws)])
    xt = (1 - t_all)[:, None, None, None] * x0 + t_all[:, None, None, None] * noise.repeat(
        len(times), 1, 1, 1)
    n = xt.shape[0]
    dev, dt = backend.device, backend.dtype
    x = pack(xt).to(dev, dt)
    ids = image_ids(h, w).to(dev, dt)
    t_ = t_all.to(dev, dt)
    gd = torch.full((n,), float(guidance), device=dev) if backend.has_guidance else None

    def velocity(emb):
        return flux_velocity(backend.transformer, x, t_, gd, emb.pooled.expand(n, -1),
                             emb.t5.expand(n, -1, -1), emb.text_ids, ids).float()

    hooks, focus = None, {}
    if attention:
        hooks, focus = _attention_hooks(backend, target_prompt, focus_words, text_len)
    with backend._on_device(backend.transformer):
        v_src = velocity(emb_src)
        if hooks is None:
            v_tgt = velocity(emb_tgt)
            att = None
        else:
            with hooks:
                hooks.set_call(phase="sample", step=0, t=0.5, substep="start")
                v_tgt = velocity(emb_tgt)
                maps = hooks.block_maps
            att = _attention_map(maps, hooks, h, w) if maps else None
    diff = unpack(v_tgt - v_src, h, w).norm(dim=1).mean(dim=0).cpu()  # [h, w]
    return {"velocity": _normalise(diff), "attention": att, "focus": focus, "nfe": 2 * n}


def _attention_hooks(backend, target_prompt, focus_words, text_len):
    from editing_core.attention import AttentionHooks
    from editing_core.focus import fallback_focus, focus_token_positions
    from editing_core.presets import COMMON

    positions = list(focus_token_positions(backend.tokenizer_2, target_prompt,
                                           list(focus_words or ()), text_len))
    focus: dict = {"focus_positions": positions}
    if not positions:
        positions, how = fallback_focus(backend.tokenizer_2, target_prompt, text_len,
                                        COMMON["highlight_fallback"],
                                        COMMON["highlight_fallback_position"])
        focus = {"focus_positions": positions, "focus_fallback": how}
    if not positions:
        return None, focus
    # A three-point grid whose step 0 is a map-reading step (see AttentionHooks).
    hooks = AttentionHooks(backend.transformer, timesteps=[1.0, 0.5, 0.0], highlight=True,
                           focus_positions=positions, text_len=text_len,
                           params={"highlight_from_step": 1})
    return hooks, focus


def _attention_map(maps: dict, hooks, h: int, w: int) -> torch.Tensor:
    from editing_core.highlight import ranked_mean

    names = [n for n in hooks._double_names if n in maps] or list(maps)
    soft = ranked_mean([maps[n] for n in names], int(hooks.params["highlight_start"]),
                       int(hooks.params["highlight_blocks"]))  # [B, L]
    return _normalise(soft.mean(dim=0).reshape(h // 2, w // 2).cpu())


def combine(maps: dict, method: str, size: tuple[int, int]) -> np.ndarray:
    """The score [H, W] in [0, 1] at image size (W, H) of a method: "velocity",
    "attention", "both" (the geometric mean of the two: a place must differ under the two
    prompts AND draw the focus words' attention), "mean" or "max" of the two. Without an
    attention map (no focus position) every method falls back to velocity."""
    vel = _upsample(maps["velocity"], size)
    att = maps.get("attention")
    if method == "velocity" or att is None:
        return vel
    att = _upsample(att, size)
    if method == "attention":
        return att
    if method == "both":
        return np.sqrt(vel * att)
    if method == "mean":
        return 0.5 * (vel + att)
    if method == "max":
        return np.maximum(vel, att)
    raise ValueError(f"auto region method must be one of {', '.join(METHODS)}, not {method!r}")


def cut(score: np.ndarray, threshold: float, grow: int) -> np.ndarray:
    """The mask: score >= threshold (nothing when the score is all zero), grown by `grow`
    pixels."""
    if not (score > 0).any():
        return np.zeros(score.shape, dtype=bool)
    return dilate(score >= threshold, grow)


def find_region(backend, x0: torch.Tensor, source_prompt: str, target_prompt: str,
                focus_words=(), *, size: tuple[int, int], seed: int = 0, method: str | None = None,
                threshold: float | None = None, grow: int | None = None, times=None,
                draws: int | None = None, guidance: float | None = None) -> Region:
    """The automatic Region of an edit of latent x0, as a mask of `size` (W, H)."""
    method = method or DEFAULTS["method"]
    if method not in METHODS:
        raise ValueError(f"auto region method must be one of {', '.join(METHODS)}, not {method!r}")
    threshold = DEFAULTS["threshold"] if threshold is None else float(threshold)
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"auto region threshold must be in (0, 1], not {threshold}")
    grow = DEFAULTS["grow"] if grow is None else int(grow)
    maps = edit_maps(backend, x0, source_prompt, target_prompt, focus_words, seed=seed,
                     times=times or DEFAULTS["times"], draws=draws or DEFAULTS["draws"],
                     guidance=DEFAULTS["guidance"] if guidance is None else guidance,
                     attention=method != "velocity")
    score = combine(maps, method, size)
    used = method if maps.get("attention") is not None else "velocity"
    return Region(cut(score, threshold, grow), source=used, score=score, threshold=threshold,
                  nfe=maps["nfe"])
