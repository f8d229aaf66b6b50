"""Adaptive attention highlighting: the math, free of diffusers.

Tensors use the [batch, heads, tokens, head_dim] layout of scaled_dot_product_attention.
The joint sequence is [text, image]: the first `text_len` tokens are text.

Two implementations of "attention with image->text re-weighting, plus the heat of the
focus columns" give the same result:

- `attend_explicit` materialises the full L x L probabilities. Clear, slow, the reference.
- `attend_fused` runs one fused attention call on an augmented value tensor
  [V, V restricted to the first K text keys, one-hot columns of the focus tokens]. Its
  output carries the normal output O = P V, the slice P_txt V_txt and the heat columns
  P[:, focus] at flash-attention memory cost. Scaling the image rows' weights on the
  first K text keys by m (no renormalisation) changes the output by (m - 1) P_txt V_txt,
  so O' = O + (m - 1) P_txt V_txt.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def heat_map(heat: torch.Tensor) -> torch.Tensor:
    """Raw heat [B, L_img] -> soft map in (0, 1): min-max normalise, then sigmoid(10 (h - 0.5))."""
    heat = heat.float()
    lo = heat.amin(dim=-1, keepdim=True)
    hi = heat.amax(dim=-1, keepdim=True)
    h = (heat - lo) / (hi - lo).clamp_min(1e-12)
    return torch.sigmoid(10.0 * (h - 0.5))


def select_ranks(n_blocks: int, start: int, count: int) -> tuple[int, int]:
    """Clamp the rank window [start, start + count) to the blocks a model has.

    FLUX.1 has 19 double blocks and the default window is ranks 11-14. A model with fewer
    blocks keeps the window size where it can (count = min(count, n_blocks)) and slides it
    down so that it ends at the last rank: 2 blocks -> ranks 0-1.
    """
    if n_blocks <= 0:
        raise ValueError("no block maps to rank")
    count = max(1, min(count, n_blocks))
    start = max(0, min(start, n_blocks - count))
    return start, count


def mask_from_maps(
    maps: list[torch.Tensor], start: int = 11, count: int = 4, threshold: float = 0.3
) -> torch.Tensor:
    """Binary edit mask [B, L_img] from one step's per-block maps (each [B, L_img]).

    Blocks are ranked per batch item by total activation (sum of the map, highest first);
    the maps at ranks [start, start + count) (clamped, see `select_ranks`) are averaged and
    thresholded.
    """
    stacked = torch.stack([m.float() for m in maps])  # [n, B, L]
    start, count = select_ranks(len(maps), start, count)
    order = stacked.sum(dim=-1).argsort(dim=0, descending=True, stable=True)  # [n, B]
    chosen = order[start : start + count]  # [count, B]
    index = chosen[..., None].expand(-1, -1, stacked.shape[-1])
    mean = stacked.gather(0, index).mean(dim=0)
    return mean > threshold


def row_multipliers(mask: torch.Tensor, mult_in: float = 2.0, mult_out: float = 0.8) -> torch.Tensor:
    """Per image-token factor [B, L_img]: mult_in inside the mask, mult_out outside."""
    return torch.where(mask, torch.tensor(mult_in), torch.tensor(mult_out)).float()


def _scores(q, k, attn_mask):
    scores = (q.float() @ k.float().transpose(-1, -2)) * q.shape[-1] ** -0.5
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask.float()
    return scores


def reweighted_probs(
    q, k, text_len: int, top_k: int, mult: torch.Tensor | None, attn_mask=None
) -> torch.Tensor:
    """The full attention matrix A' [B, H, L, L] (float32) after re-weighting.

    A = softmax(q k^T / sqrt(d)); rows of image queries get their weights on the first
    `top_k` text keys multiplied by `mult` [B, L_img]; nothing is renormalised.
    """
    probs = _scores(q, k, attn_mask).softmax(dim=-1)
    if mult is not None:
        k_eff = min(top_k, text_len)
        factor = torch.ones_like(probs[:, :1])  # [B, 1, L, L]
        factor[:, 0, text_len:, :k_eff] = mult.float()[:, :, None].to(probs.device)
        probs = probs * factor
    return probs


def focus_heat(probs: torch.Tensor, text_len: int, focus: list[int]) -> torch.Tensor:
    """Heat [B, L_img]: image queries' probability on the focus columns, mean over heads and tokens."""
    return probs[:, :, text_len:, focus].mean(dim=(1, 3))


def attend_explicit(
    q, k, v, *, text_len: int, focus: list[int], top_k: int = 15,
    mult: torch.Tensor | None = None, attn_mask=None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Reference: (output [B, H, L, D] in v's dtype, heat [B, L_img] or None without focus)."""
    plain = _scores(q, k, attn_mask).softmax(dim=-1)
    heat = focus_heat(plain, text_len, focus) if focus else None
    probs = reweighted_probs(q, k, text_len, top_k, mult, attn_mask) if mult is not None else plain
    return (probs @ v.float()).to(v.dtype), heat


def attend_fused(
    q, k, v, *, text_len: int, focus: list[int], top_k: int = 15,
    mult: torch.Tensor | None = None, attn_mask=None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Same result as `attend_explicit` with one scaled_dot_product_attention call."""
    b, h, n, d = v.shape
    parts = [v]
    k_eff = min(top_k, text_len)
    if mult is not None:
        keep = torch.zeros(n, 1, dtype=v.dtype, device=v.device)
        keep[:k_eff] = 1
        parts.append(v * keep)
    if focus:
        onehot = torch.zeros(n, len(focus), dtype=v.dtype, device=v.device)
        onehot[torch.tensor(focus, device=v.device), torch.arange(len(focus), device=v.device)] = 1
        parts.append(onehot.expand(b, h, n, len(focus)))
    width = sum(p.shape[-1] for p in parts)
    pad = -width % 8  # fused kernels want the value width aligned
    if pad and len(parts) > 1:
        parts.append(v.new_zeros(b, h, n, pad))
    aug = torch.cat(parts, dim=-1) if len(parts) > 1 else v
    res = F.scaled_dot_product_attention(q, k, aug, attn_mask=attn_mask)

    out = res[..., :d]
    col = d
    if mult is not None:
        ptv = res[:, :, text_len:, col : col + d]
        col += d
        scale = (mult.to(out.dtype).to(out.device) - 1)[:, None, :, None]
        out[:, :, text_len:] += scale * ptv  # res is ours: in place, no copy of the full output
    heat = None
    if focus:
        heat = res[:, :, text_len:, col : col + len(focus)].float().mean(dim=(1, 3))
    return out.contiguous(), heat
