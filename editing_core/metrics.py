"""Image similarity figures for the benchmarks: PSNR and SSIM on RGB images."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def _arr(img: Image.Image, size: tuple[int, int] | None = None) -> torch.Tensor:
    img = img.convert("RGB")
    if size is not None and img.size != tuple(size):
        img = img.resize(tuple(size), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.asarray(img, dtype=np.float64) / 255.0).permute(2, 0, 1)[None]


def tensor_psnr(a: torch.Tensor, b: torch.Tensor, value_range: tuple[float, float] = (0.0, 1.0)) -> float:
    """Peak signal-to-noise ratio in dB of two same-shaped tensors whose values lie in
    `value_range` (clamped to it); inf when identical."""
    lo, hi = value_range
    x, y = a.clamp(lo, hi), b.clamp(lo, hi)
    mse = float((((x - y) / (hi - lo)) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio in dB (b is resized to a's size); inf when identical."""
    return tensor_psnr(_arr(a), _arr(b, a.size))


def ssim(a: Image.Image, b: Image.Image, window: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM over RGB channels with a Gaussian window (Wang et al. 2004 constants)."""
    x, y = _arr(a), _arr(b, a.size)
    window = max(1, min(window, x.shape[-1], x.shape[-2]) | 1)
    r = torch.arange(window, dtype=torch.float64) - window // 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    k = (g[:, None] * g[None, :]).expand(3, 1, window, window)

    def blur(z):
        return F.conv2d(z, k, groups=3)

    c1, c2 = 0.01**2, 0.03**2
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return float(s.mean())
