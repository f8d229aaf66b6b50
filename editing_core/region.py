"""Where an edit may change the image: the `Region`, its mask on the token grid, and the
inversion trajectory the sampler resets to outside it.

A region is a boolean mask at image resolution (True: the edit may change this pixel).
In the sampler it acts on the packed token grid: a token is free when any of its pixels
is in the mask (max-pool, never nearest: a one-pixel mask frees its token), dilated by
one token so the model sees the seam's surroundings move with the edit. After every
sampling step the tokens outside are set back to the inversion's own state at that time
(`Trajectory`), so the last step lands exactly on the edited latent there. In pixels,
`editing_core.composite` pastes the decoded result over the previous image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

MOST = 0.6  # a mask over this share of the image "covers most of it"


@dataclass(frozen=True)
class Region:
    """A mask at image resolution, where it came from and what it covers.

    mask: bool [H, W], True where the edit may change pixels.
    source: "given" (drawn, dragged or computed by the caller) or the automatic
        source(s) it came from: "velocity", "attention", "velocity*attention".
    score: float [H, W] in [0, 1], the map an automatic mask was thresholded from.
    threshold: the cut applied to `score`. nfe: model calls spent finding the mask.
    """

    mask: np.ndarray
    source: str = "given"
    score: np.ndarray | None = field(default=None, repr=False)
    threshold: float | None = None
    nfe: int = 0

    def __post_init__(self):
        m = np.asarray(self.mask)
        if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] < 1:
            raise ValueError(f"a region mask is one 2-D array (height x width), not shape {m.shape}")
        object.__setattr__(self, "mask", m.astype(bool, copy=False))

    @property
    def size(self) -> tuple[int, int]:
        """(W, H), as PIL."""
        return self.mask.shape[1], self.mask.shape[0]

    @property
    def coverage(self) -> float:
        """Share of the image's pixels inside the mask."""
        return float(self.mask.mean())

    @property
    def empty(self) -> bool:
        return not bool(self.mask.any())

    @property
    def covers_most(self) -> bool:
        return self.coverage > MOST

    @property
    def status(self) -> str:
        """"empty", "most" (over MOST of the image) or "ok": what a caller may need to say."""
        return "empty" if self.empty else "most" if self.covers_most else "ok"

    @classmethod
    def box(cls, size: tuple[int, int], x0: int, y0: int, x1: int, y1: int) -> Region:
        """A dragged box on an image of `size` (W, H): pixels x0 <= x < x1, y0 <= y < y1
        (clipped to the image; the corners may come in any order)."""
        w, h = int(size[0]), int(size[1])
        xa, xb = sorted((int(x0), int(x1)))
        ya, yb = sorted((int(y0), int(y1)))
        m = np.zeros((h, w), dtype=bool)
        m[max(ya, 0) : min(yb, h), max(xa, 0) : min(xb, w)] = True
        return cls(m, source="given")

    def inverted(self) -> Region:
        """Everything but this region ("everything except the dog")."""
        return Region(~self.mask, source=self.source, nfe=self.nfe)

    def png(self) -> bytes:
        """The mask as a PNG (mode L: 255 inside, 0 outside), e.g. to store it."""
        import io

        buf = io.BytesIO()
        Image.fromarray(self.mask.astype(np.uint8) * 255, "L").save(buf, format="PNG")
        return buf.getvalue()

    def describe(self) -> dict:
        """What an edit records about its region (EditResult.params["region"])."""
        out = {"source": self.source, "coverage": round(self.coverage, 4), "status": self.status,
               "size": list(self.size)}
        if self.threshold is not None:
            out["threshold"] = round(float(self.threshold), 4)
        if self.nfe:
            out["nfe"] = int(self.nfe)
        return out


def as_region(region) -> Region | None:
    """A Region from a Region, a bool / float array (float: >= 0.5 is inside), a torch
    tensor, a PIL image or image file bytes (`Region.png`; >= 128 in mode L is inside,
    other modes are converted to L). None stays None."""
    if region is None or isinstance(region, Region):
        return region
    if isinstance(region, (bytes, bytearray, memoryview)):
        from editing_core.images import load_image

        region = load_image(bytes(region))
    if isinstance(region, Image.Image):
        a = np.asarray(region.convert("L")) >= 128
    else:
        if isinstance(region, torch.Tensor):
            region = region.detach().cpu().numpy()
        a = np.asarray(region)
        if a.ndim == 3 and 1 in (a.shape[0], a.shape[-1]):
            a = a.reshape(a.shape[1:] if a.shape[0] == 1 else a.shape[:2])
        if a.dtype != bool:
            if not np.issubdtype(a.dtype, np.number):
                raise ValueError("a region mask must be numbers or booleans")
            a = np.nan_to_num(a.astype(np.float64), nan=0.0) >= 0.5
    return Region(a)


def _spans(n_cells: int, n_pixels: int) -> list[tuple[int, int]]:
    """The pixel range [a, b) under each of n_cells equal cells (overlapping when the
    ratio is not whole: a pixel straddling two cells belongs to both)."""
    out = []
    for i in range(n_cells):
        a = int(np.floor(i * n_pixels / n_cells))
        b = int(np.ceil((i + 1) * n_pixels / n_cells))
        out.append((a, max(b, a + 1)))
    return out


def any_coverage(mask: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Pool a bool mask [H, W] to [rows, cols]: a cell is True when any pixel under it is."""
    m = np.asarray(mask, dtype=bool)
    by_row = np.stack([m[a:b].any(axis=0) for a, b in _spans(rows, m.shape[0])])
    return np.stack([by_row[:, a:b].any(axis=1) for a, b in _spans(cols, m.shape[1])], axis=1)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A bool mask at (W, H): unchanged at its own size; otherwise a target pixel is inside
    when any source pixel it overlaps is (resizing never drops a marked place)."""
    m = np.asarray(mask, dtype=bool)
    w, h = int(size[0]), int(size[1])
    return m if m.shape == (h, w) else any_coverage(m, h, w)


def dilate(mask: np.ndarray, cells: int = 1) -> np.ndarray:
    """Grow a bool mask by `cells` in every direction (8-neighbourhood)."""
    m = np.asarray(mask, dtype=bool)
    for _ in range(max(0, int(cells))):
        p = np.pad(m, 1)
        m = np.zeros_like(m)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                m |= p[dy : dy + m.shape[0], dx : dx + m.shape[1]]
    return m


def token_mask(mask: np.ndarray, latent_hw: tuple[int, int], dilation: int = 1) -> np.ndarray:
    """The free tokens [h/2, w/2] of a latent (h, w) for a pixel mask: any coverage, then
    dilated by `dilation` tokens. The mask spans the whole image the latent encodes."""
    h, w = latent_hw
    return dilate(any_coverage(mask, h // 2, w // 2), dilation)


class Trajectory:
    """The inversion's state at every grid time; the sampler resets to it outside `free`.

    free: bool [L] over packed tokens (True: the edit may change it). `record` is the
    inversion solver's after_step, `reset` the sampling solver's: after sampling step i
    (landing on t_{i+1}), tokens outside `free` take the state the inversion had at that
    same time. The inversion starts from the edited latent, so the last sampling step
    ends exactly on it there.
    """

    def __init__(self, x0: torch.Tensor, free: np.ndarray | torch.Tensor):
        free = torch.as_tensor(np.asarray(free, dtype=bool).reshape(-1))
        if free.numel() != x0.shape[1]:
            raise ValueError(f"the region has {free.numel()} tokens, the latent {x0.shape[1]}")
        self.free = free.to(x0.device)[None, :, None]
        self.states = [x0.clone()]
        self.times = [0.0]

    def record(self, x: torch.Tensor, step: int, t: float) -> torch.Tensor:
        self.states.append(x.clone())
        self.times.append(float(t))
        return x

    def reset(self, x: torch.Tensor, step: int, t: float) -> torch.Tensor:
        k = len(self.states) - 2 - int(step)
        if k < 0 or abs(self.times[k] - float(t)) > 1e-6:
            raise RuntimeError(f"sampling step {step} (t={t:.4f}) has no inversion state")
        return torch.where(self.free, x, self.states[k].to(x.dtype))

    @property
    def free_share(self) -> float:
        """Share of the tokens the sampler leaves free."""
        return float(self.free.float().mean())


DILATION = 1  # tokens added around the mask's tokens in the sampler


@dataclass
class RegionPlan:
    """A region fitted to one edit: the mask at the previous image's size, the free
    tokens of the latent, and the composite's settings in that image's pixels (a token's
    side, `token_px`, sets them: feather a quarter token, seam ring half a token,
    smoothing one token, fading over two)."""

    region: Region
    mask: np.ndarray
    free: np.ndarray
    token_px: float

    @classmethod
    def fit(cls, region: Region, size: tuple[int, int], latent_hw: tuple[int, int]) -> RegionPlan:
        """The plan for an image of `size` (W, H) edited as a latent of `latent_hw`."""
        mask = resize_mask(region.mask, size)
        token_px = 2 * size[0] / latent_hw[1]  # a token is 2 latent pixels wide
        return cls(region, mask, token_mask(mask, latent_hw, DILATION), token_px)

    @property
    def settings(self) -> dict:
        t = self.token_px
        return {"feather": max(1.0, round(t / 4)), "ring": max(2, round(t / 2)),
                "sigma": max(1.0, t), "reach": max(2, round(2 * t))}

    def paste(self, result, previous):
        """The decoded result composited over the previous image (editing_core.composite)."""
        from editing_core.composite import composite

        return composite(result, previous, self.mask, seam=True, **self.settings)

    def describe(self) -> dict:
        return {**self.region.describe(), "free_tokens": round(float(self.free.mean()), 4),
                "dilation": DILATION, **self.settings}
