"""The FLUX time grid: t from 1 (noise) to 0 (clean), with FLUX.1-dev's resolution shift."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

# FLUX.1-dev's scheduler_config.json; FLUX.1-schnell sets use_dynamic_shifting=False, shift=1.
DEV_SHIFT = {
    "use_dynamic_shifting": True,
    "base_image_seq_len": 256,
    "max_image_seq_len": 4096,
    "base_shift": 0.5,
    "max_shift": 1.15,
    "shift": 3.0,
}


def shift_mu(image_seq_len: int, config: Mapping = DEV_SHIFT) -> float:
    """mu linear in the image token count: 256 tokens -> 0.5, 4096 -> 1.15 (dev defaults)."""
    n0, n1, m0, m1 = (config.get(k, DEV_SHIFT[k]) for k in (
        "base_image_seq_len", "max_image_seq_len", "base_shift", "max_shift"))
    return m0 + (m1 - m0) * (image_seq_len - n0) / (n1 - n0)


def time_shift(t: torch.Tensor, mu: float, kind: str = "exponential") -> torch.Tensor:
    """t' = e^mu / (e^mu + (1/t - 1)) (kind "linear": mu in place of e^mu); keeps 0, 1 fixed."""
    e = mu if kind == "linear" else math.exp(mu)
    safe = t.clamp_min(1e-12)
    return torch.where(t > 0, e / (e + (1.0 / safe - 1.0)), torch.zeros_like(t))


def sampling_timesteps(
    num_steps: int, image_seq_len: int, config: Mapping | None = DEV_SHIFT
) -> torch.Tensor:
    """Descending grid of num_steps + 1 times in float64, t[0] = 1, t[-1] = 0.

    `config` is a scheduler config (the model folder's scheduler_config.json): dynamic
    shifting uses mu(image_seq_len); otherwise a static `shift` (1 = none, schnell).
    None means no shift at all. Inversion uses the same grid reversed (`.flip(0)`).
    """
    if num_steps < 1:
        raise ValueError("num_steps must be at least 1")
    t = torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64)
    if config is None:
        return t
    if config.get("use_dynamic_shifting", False):
        kind = config.get("time_shift_type") or "exponential"
        return time_shift(t, shift_mu(image_seq_len, config), kind)
    s = float(config.get("shift", 1.0))
    if s == 1.0:
        return t
    return s * t / (1 + (s - 1) * t)
