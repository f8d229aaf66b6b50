"""Pasting an edited image back over the previous one inside a region, in pixels.

Pure functions of images and a bool mask (True: the edit may change the pixel):

- `composite(result, previous, mask, ...)`: outside the mask the output IS the previous
  image (byte for byte); inside, the result, blended toward the previous image over a
  `feather` of pixels along the border (the blend runs inward only, so nothing outside
  moves), after a low-frequency colour correction on the seam ring (`seam_offset`).
- `seam_offset`: the tone shift a model adds to a regenerated area (a slightly other
  shade of the same background) shows as a step at the mask's border. On a ring just
  inside the border the difference previous - result is measured where it is small
  (a tone shift; where the edit itself reaches the border the difference is large and
  is left alone), smoothed into a low-frequency field by normalised Gaussian
  convolution, and added to the result near the border, fading out inward.
- `seam_delta`: the colour step the edit introduced across the border, for benchmarks.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def _rgb(img) -> np.ndarray:
    if isinstance(img, Image.Image):
        return np.asarray(img.convert("RGB"), dtype=np.float32)
    a = np.asarray(img, dtype=np.float32)
    return a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=-1)


def _erode(m: np.ndarray) -> np.ndarray:
    """3x3 erosion; the image frame counts as inside (no border is made by the frame)."""
    p = np.pad(m, 1, constant_values=True)
    out = np.ones_like(m)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            out &= p[dy : dy + m.shape[0], dx : dx + m.shape[1]]
    return out


def inner_distance(mask: np.ndarray, limit: int) -> np.ndarray:
    """For pixels inside the mask, 1 + how many 3x3 erosions they survive, capped at
    `limit` (1 on the border's inner side, 2 next to it, ...); 0 outside."""
    cur = np.asarray(mask, dtype=bool)
    d = np.zeros(cur.shape, dtype=np.int32)
    for _ in range(max(0, int(limit))):
        if not cur.any():
            break
        d += cur
        cur = _erode(cur)
    return d


def feather_alpha(mask: np.ndarray, feather: float) -> np.ndarray:
    """Weight of the result: 0 outside, rising inward over `feather` pixels to 1."""
    if feather <= 0:
        return np.asarray(mask, dtype=np.float32)
    steps = int(np.ceil(feather)) + 1
    d = inner_distance(mask, steps).astype(np.float32)
    return np.clip(d / (feather + 1.0), 0.0, 1.0)


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of [H, W] or [H, W, C] (reflected edges)."""
    if sigma <= 0:
        return a
    r = max(1, int(np.ceil(3 * sigma)))
    k = torch.exp(-(torch.arange(-r, r + 1, dtype=torch.float32) ** 2) / (2 * sigma**2))
    k = k / k.sum()
    x = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    x = (x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None])
    c = x.shape[1]
    for kern, pad in ((k.view(1, 1, 1, -1), (r, r, 0, 0)), (k.view(1, 1, -1, 1), (0, 0, r, r))):
        mode = "reflect" if min(x.shape[-2:]) > r else "replicate"
        x = F.conv2d(F.pad(x, pad, mode=mode), kern.expand(c, 1, *kern.shape[-2:]), groups=c)
    x = x[0]
    return (x[0] if a.ndim == 2 else x.permute(1, 2, 0)).numpy()


def seam_offset(result, previous, mask: np.ndarray, *, ring: int = 4, sigma: float = 8.0,
                reach: int = 16, tolerance: float = 24.0) -> np.ndarray:
    """The low-frequency correction [H, W, 3] (0-255 units) that takes the result's tone
    to the previous image's on the seam ring; zero outside the mask and deeper than
    `reach` pixels inside it.

    ring: width of the band inside the border where the tone is measured; tolerance:
    the largest per-channel difference read as a tone shift (larger ones are the edit);
    sigma: the smoothing (pixels); reach: how far inward the correction fades out.
    """
    res, prev = _rgb(result), _rgb(previous)
    m = np.asarray(mask, dtype=bool)
    depth = inner_distance(m, max(ring, reach) + 1)
    band = (depth >= 1) & (depth <= ring)
    diff = prev - res
    valid = band & (np.abs(diff).max(axis=-1) <= tolerance)
    if not valid.any():
        return np.zeros_like(res)
    w = valid.astype(np.float32)
    num = _blur(diff * w[..., None], sigma)
    den = _blur(w, sigma)
    support = _blur(band.astype(np.float32), sigma)
    field = num / np.maximum(den, 1e-6)[..., None]
    confidence = np.clip(den / np.maximum(support, 1e-6), 0.0, 1.0)
    confidence[den < 1e-4] = 0.0
    fade = np.clip(1.0 - (depth.astype(np.float32) - 1.0) / max(reach, 1), 0.0, 1.0)
    fade[~m] = 0.0
    return field * (confidence * fade)[..., None]


def composite(result, previous, mask: np.ndarray, *, feather: float = 2.0, seam: bool = True,
              ring: int = 4, sigma: float = 8.0, reach: int = 16,
              tolerance: float = 24.0) -> Image.Image:
    """The result inside the mask over the previous image outside it (RGB, the previous
    image's size; the result must have that size). Pixels outside the mask are the
    previous image's exactly; see the module docstring for the feather and the seam."""
    prev_img = previous.convert("RGB") if isinstance(previous, Image.Image) else None
    prev = _rgb(previous)
    res = _rgb(result)
    m = np.asarray(mask, dtype=bool)
    if res.shape != prev.shape or m.shape != prev.shape[:2]:
        raise ValueError(f"the result ({res.shape[1]}x{res.shape[0]}), the previous image "
                         f"({prev.shape[1]}x{prev.shape[0]}) and the mask ({m.shape[1]}x"
                         f"{m.shape[0]}) must have one size")
    if seam and m.any():
        res = res + seam_offset(res, prev, m, ring=ring, sigma=sigma, reach=reach,
                                tolerance=tolerance)
    alpha = feather_alpha(m, feather)[..., None]
    mixed = np.clip(np.rint(prev + alpha * (res - prev)), 0, 255)
    base = np.asarray(prev_img) if prev_img is not None else np.clip(np.rint(prev), 0, 255)
    out = np.where(m[..., None], mixed.astype(np.uint8), base.astype(np.uint8))
    return Image.fromarray(out, "RGB")


def seam_delta(image, previous, mask: np.ndarray) -> float | None:
    """Mean colour step (0-255, mean over RGB) the edit introduced across the mask's
    border: over every pair of 4-neighbours with one pixel inside and one outside,
    |(image_in - image_out) - (previous_in - previous_out)|, so a step the previous
    image already had there (a stripe, an edge) does not count. None without a border."""
    a, b = _rgb(image), _rgb(previous)
    m = np.asarray(mask, dtype=bool)
    if a.shape != b.shape or m.shape != a.shape[:2]:
        raise ValueError("the image, the previous image and the mask must have one size")
    steps = []
    for axis in (0, 1):
        n = m.shape[axis] - 1
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis], hi[axis] = slice(0, n), slice(1, n + 1)
        lo, hi = tuple(lo), tuple(hi)
        cross = m[lo] != m[hi]
        if not cross.any():
            continue
        da = a[lo][cross] - a[hi][cross]
        db = b[lo][cross] - b[hi][cross]
        steps.append(np.abs(da - db).mean(axis=-1))
    if not steps:
        return None
    return float(np.concatenate(steps).mean())
