"""Attention hooks for an edit: V injection (single-stream blocks) and adaptive attention
highlighting (double-stream blocks) on diffusers' FluxTransformer2DModel.

    hooks = AttentionHooks(transformer, timesteps=grid, inject_steps=1, highlight=True,
                           focus_positions=[2], text_len=512)
    with hooks:                       # installs the processors; restores the old ones on exit
        hooks.set_call(phase="invert", step=j, t=t, substep="start")
        v = transformer(...)          # one call per set_call
        ...

Matching inversion and sampling calls (V injection)
---------------------------------------------------
`timesteps` is the sampling grid t_0 = 1 > t_1 > ... > t_N = 0. Interval k is
[t_{k+1}, t_k]; sampling step k crosses it downwards, inversion crosses it upwards. Every
model call is keyed by (interval, substep), found from its t:

- "mid":   t = (t_k + t_{k+1}) / 2, in both phases (midpoints of inversion and sampling
           coincide, so these calls see the same noise level);
- "start": sampling evaluates at the top end, t = t_k; inversion at the bottom end,
           t = t_{k+1} (the one end it knows).

During inversion, calls with interval k < inject_steps store V of every single-stream
block; during sampling, calls with the same key replace V by the stored tensor (the
whole [text, image] value, or only its image part with params["inject_text"] = False).
Per solver:
- Euler: the sampling call at t_k takes V of the inversion call at t_{k+1}.
- RF-Solver: "start" as Euler; "mid" pairs at equal t.
- FireFlow: only "mid" calls pair (equal t). Its single fresh "start" call of sampling
  (t = 1) has no inversion partner, since inversion's only "start" call is at t = 0;
  that call runs without injection.
A call whose t matches no grid point or midpoint is neither stored nor injected. If the
same set_call is followed by several forwards (e.g. separate true-CFG passes), each
forward is matched to the forward of the same rank; a missing rank falls back to rank 0.
Stored tensors stay in memory (on the model's device, or the CPU with
params["inject_store"] = "cpu") and are freed when the `with` block ends.

Highlighting
------------
While sampling with `highlight=True` and at least one focus position, every double
block records m = sigmoid(10 (h - 0.5)) of the min-max normalised focus heat h of the
image queries (only in the steps whose maps are read: from highlight_from_step - 1 to
the next-to-last step; other calls run plain attention). From sampling step `highlight_from_step` on, the maps of the last call of
the previous step are ranked per block by total activation; ranks
[highlight_start, highlight_start + highlight_blocks) (slid down and shrunk to fit the
model's block count, see `highlight.select_ranks`) are averaged and thresholded at
`threshold`: the binary mask M (`last_mask`) used by every double block during this
step. Image-query weights on the first `highlight_k` text keys are multiplied by
`mult_in` inside M and `mult_out` outside, without renormalising. With no focus
positions (e.g. the focus words are not in the prompt) highlighting is skipped.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Self

import torch
from diffusers.models.transformers.transformer_flux import FluxAttnProcessor

from .highlight import attend_explicit, attend_fused, heat_map, mask_from_maps, row_multipliers
from .presets import ATTENTION
from .processors import EditAttnProcessor

DEFAULT_PARAMS: dict = ATTENTION  # the one home of these defaults: editing_core/presets.py

PHASES = ("invert", "sample")
SUBSTEPS = ("start", "mid")
DOUBLE_PREFIX = "transformer_blocks."
SINGLE_PREFIX = "single_transformer_blocks."


def _block_kind(name: str) -> str | None:
    if name.startswith(SINGLE_PREFIX):
        return "single"
    if name.startswith(DOUBLE_PREFIX):
        return "double"
    return None


class AttentionHooks:
    """Per-edit attention state; a context manager that installs `EditAttnProcessor`s.

    Args:
        transformer: a diffusers FluxTransformer2DModel.
        timesteps: the sampling grid, descending from 1 to 0, N + 1 values.
        inject_steps: V injection covers the first `inject_steps` sampling intervals (0: off).
        highlight: enable adaptive attention highlighting while sampling.
        focus_positions: T5 token positions of the focus words (see `focus.focus_token_positions`).
        text_len: number of text tokens in the joint sequence (the T5 max length). Single-stream
            blocks see [text, image] without being told the split; double blocks check it.
        params: overrides of DEFAULT_PARAMS; other keys are ignored, so a preset's whole
            parameter dict may be passed.
    """

    def __init__(
        self,
        transformer,
        timesteps,
        inject_steps: int = 0,
        highlight: bool = False,
        focus_positions=(),
        text_len: int | None = None,
        params: dict | None = None,
    ):
        self.transformer = transformer
        grid = [float(t) for t in (timesteps.tolist() if torch.is_tensor(timesteps) else timesteps)]
        if len(grid) < 2 or any(a <= b for a, b in itertools.pairwise(grid)):
            raise ValueError("timesteps must be the sampling grid: strictly descending, N + 1 >= 2 values")
        self.timesteps = grid
        self.inject_steps = max(0, int(inject_steps))
        self.text_len = text_len
        self.focus = sorted({int(p) for p in focus_positions})
        if self.focus and (self.focus[0] < 0 or (text_len is not None and self.focus[-1] >= text_len)):
            raise ValueError(f"focus positions {self.focus} outside the text tokens [0, {text_len})")
        self.highlight = bool(highlight)
        self.params = dict(DEFAULT_PARAMS)
        self.params.update({k: v for k, v in (params or {}).items() if k in DEFAULT_PARAMS})
        if self.params["highlight_impl"] not in ("fused", "explicit"):
            raise ValueError("highlight_impl must be 'fused' or 'explicit'")
        if self.params["inject_store"] not in ("device", "cpu"):
            raise ValueError("inject_store must be 'device' or 'cpu'")

        # Optional probe, called inside single blocks with the V that attention will use:
        # on_value(block_name, phase, key, v, action) with action "store" | "inject" | "plain".
        self.on_value: Callable | None = None
        self.counts = {"stored": 0, "injected": 0, "highlighted": 0}

        self._saved: dict | None = None
        self._double_names: list[str] = []
        self._store: dict[tuple, torch.Tensor] = {}
        self._phase: str | None = None
        self._key: tuple[int, str] | None = None
        self._rank: dict[str, int] = {}
        self._step: int | None = None
        self._call_maps: dict[str, torch.Tensor] = {}
        self._call_maps_step: int | None = None
        self._mask: torch.Tensor | None = None
        self._last_mask: torch.Tensor | None = None

    # -- install / restore -------------------------------------------------------------
    def __enter__(self) -> Self:
        if self._saved is not None:
            raise RuntimeError("these AttentionHooks are already installed")
        saved = dict(self.transformer.attn_processors)
        procs = {}
        for full_name, proc in saved.items():
            block = full_name.removesuffix(".attn.processor").removesuffix(".processor")
            kind = _block_kind(full_name)
            procs[full_name] = EditAttnProcessor(self, block, kind) if kind else proc
        self._double_names = [p.name for p in procs.values()
                              if isinstance(p, EditAttnProcessor) and p.kind == "double"]
        self.transformer.set_attn_processor(procs)
        self._saved = saved
        return self

    def __exit__(self, *exc) -> None:
        saved, self._saved = self._saved, None
        if saved is not None:
            # diffusers pops from the dict it is given: hand it a copy.
            self.transformer.set_attn_processor(
                {n: (FluxAttnProcessor() if isinstance(p, EditAttnProcessor) else p)
                 for n, p in saved.items()}
            )
        self.clear()

    def clear(self) -> None:
        """Free the stored values and per-step maps (the last mask is kept for display)."""
        self._store.clear()
        self._call_maps = {}
        self._mask = None
        self._phase = self._key = self._step = None

    @property
    def installed(self) -> bool:
        return self._saved is not None

    # -- per call ------------------------------------------------------------------------
    def set_call(self, phase: str, step: int, t: float, substep: str = "start") -> None:
        """Announce the next transformer forward: its phase, step index, time and sub-step.

        `step` is the loop index of the phase's solver (sampling: 0 at t = 1). Matching for
        injection uses t (see the module docstring); highlighting uses the sampling index.
        """
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, not {phase!r}")
        if substep not in SUBSTEPS:
            raise ValueError(f"substep must be one of {SUBSTEPS}, not {substep!r}")
        self._phase = phase
        interval = self.interval_of(phase, float(t), substep)
        self._key = None if interval is None else (interval, substep)
        self._rank = {}
        if phase == "invert":
            self._step, self._call_maps, self._call_maps_step, self._mask = None, {}, None, None
            return
        step = int(step)
        if step != self._step:
            prev = self._call_maps if self._call_maps_step == step - 1 else {}
            self._mask = None
            if (self._highlight_on() and step >= self.params["highlight_from_step"]
                    and self._double_names and all(n in prev for n in self._double_names)):
                self._mask = mask_from_maps(
                    [prev[n] for n in self._double_names],
                    start=int(self.params["highlight_start"]),
                    count=int(self.params["highlight_blocks"]),
                    threshold=float(self.params["threshold"]),
                )
                self._last_mask = self._mask.detach().cpu()
            self._step = step
        self._call_maps, self._call_maps_step = {}, step

    def interval_of(self, phase: str, t: float, substep: str) -> int | None:
        """Index k of the grid interval [t_{k+1}, t_k] a call belongs to, or None."""
        g = self.timesteps
        if substep == "mid":
            cands = [(a + b) / 2 for a, b in itertools.pairwise(g)]
        elif phase == "sample":
            cands = g[:-1]
        else:
            cands = g[1:]
        gaps = [a - b for a, b in itertools.pairwise(g)]
        tol = 1e-3 * min(gaps)
        k = min(range(len(cands)), key=lambda i: abs(cands[i] - t))
        return k if math.isclose(cands[k], t, abs_tol=tol) else None

    # -- single-stream blocks: V store / inject ------------------------------------------
    def single_value(self, name: str, v: torch.Tensor) -> torch.Tensor:
        """Called by single blocks with V [B, L, H, D]; returns the V attention should use."""
        rank = self._rank.get(name, 0)
        self._rank[name] = rank + 1
        key = self._key
        action = "plain"
        if key is not None and key[0] < self.inject_steps:
            skey = (key[0], key[1], name, rank)
            if self._phase == "invert":
                stored = v.detach()
                stored = stored.to("cpu", copy=True) if self.params["inject_store"] == "cpu" else stored.clone()
                self._store[skey] = stored
                self.counts["stored"] += 1
                action = "store"
            else:
                stored = self._store.get(skey, self._store.get(skey[:3] + (0,)))
                if stored is not None:
                    v = self._inject(v, stored.to(device=v.device, dtype=v.dtype), name)
                    self.counts["injected"] += 1
                    action = "inject"
        if self.on_value is not None:
            self.on_value(name, self._phase, key, v, action)
        return v

    def _inject(self, v: torch.Tensor, stored: torch.Tensor, name: str) -> torch.Tensor:
        if stored.shape[1:] != v.shape[1:]:
            raise ValueError(
                f"{name}: stored V has shape {tuple(stored.shape)}, the sampling pass {tuple(v.shape)}: "
                "inversion and sampling must use the same image size and text length"
            )
        if stored.shape[0] != v.shape[0]:
            if stored.shape[0] != 1:
                raise ValueError(f"{name}: stored V batch {stored.shape[0]} vs sampling batch {v.shape[0]}")
            stored = stored.expand_as(v)
        if self.params["inject_text"]:
            return stored
        n_text = self._single_text_len()
        return torch.cat([v[:, :n_text], stored[:, n_text:]], dim=1)

    def _single_text_len(self) -> int:
        if self.text_len is None:
            raise ValueError("text_len is needed to split single-stream blocks into text and image")
        return self.text_len

    @property
    def stored_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self._store.values())

    # -- double-stream blocks: highlighting ----------------------------------------------
    def check_text_len(self, n_text: int) -> None:
        if self.text_len is None:
            self.text_len = n_text
        elif n_text != self.text_len:
            raise ValueError(f"the transformer got {n_text} text tokens, the hooks expect text_len={self.text_len}")

    def _highlight_on(self) -> bool:
        return self.highlight and bool(self.focus)

    def _maps_needed(self) -> bool:
        """Maps are read only from step highlight_from_step - 1 to the next-to-last step."""
        step = self._step if self._step is not None else -1
        last = len(self.timesteps) - 2
        return self.params["highlight_from_step"] - 1 <= step < last

    def highlighting_now(self) -> bool:
        """Whether double blocks need more than plain attention in this call."""
        return (self._phase == "sample" and self._highlight_on()
                and (self._mask is not None or self._maps_needed()))

    def highlight_attend(self, name, q, k, v, attn_mask=None) -> torch.Tensor:
        """Attention of one double block while sampling; records the block's focus map."""
        n_text = self.text_len
        mult = None
        if self._mask is not None:
            if self._mask.shape[-1] != q.shape[2] - n_text:
                raise ValueError("the highlight mask and the image token count differ")
            mult = row_multipliers(self._mask, self.params["mult_in"], self.params["mult_out"])
            self.counts["highlighted"] += 1
        attend = attend_fused if self.params["highlight_impl"] == "fused" else attend_explicit
        focus = self.focus if self._maps_needed() else []
        out, heat = attend(q, k, v, text_len=n_text, focus=focus,
                           top_k=int(self.params["highlight_k"]), mult=mult, attn_mask=attn_mask)
        if heat is not None:
            self._call_maps[name] = heat_map(heat)
        return out

    @property
    def last_mask(self) -> torch.Tensor | None:
        """Binary mask [B, L_img] (CPU, bool) of the latest highlighted step, or None.

        Image tokens are in the packed latent order: reshape to (H / 16, W / 16) for FLUX.
        """
        return self._last_mask

    @property
    def block_maps(self) -> dict[str, torch.Tensor]:
        """The soft maps [B, L_img] each double block recorded in the latest sampling call."""
        return dict(self._call_maps)
