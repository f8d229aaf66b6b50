"""Adaptive attention highlighting: the math, free of diffusers.

Tensors use the [batch, heads, tokens, head_dim] layout of scaled_dot_product_attention.
The joint sequence is [text, image]: the first `text_len` tokens are text.

Two implementations of "attention with image->text re-weighting, plus the heat of the
focus columns" give the same result:

- `attend_explicit` materialises the full L x L probabilities. Clear, slow, the reference.
- `attend_fused` runs one fused attention call on an augmented value tensor
  [V, one-hot columns of the first K text keys and of the focus tokens]. Its output
  carries the normal output O = P V and the probability columns P[:, :K] and P[:, focus]
  at flash-attention memory cost. Scaling the image rows' weights on the first K text
  keys by m (no renormalisation) changes the output by (m - 1) P_txt V_txt, so
  O' = O + (m - 1) P[:, :K] V[:K]. (METHOD.md's variant appends V masked to the first K
  keys, D extra columns instead of K; same result, wider call.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from editing_core.presets import ATTENTION


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
    maps: list[torch.Tensor],
    start: int = ATTENTION["highlight_start"],
    count: int = ATTENTION["highlight_blocks"],
    threshold: float = ATTENTION["threshold"],
) -> torch.Tensor:
    """Binary edit mask [B, L_img] from one step's per-block maps (each [B, L_img]):
    `ranked_mean` thresholded."""
    return ranked_mean(maps, start, count) > threshold


def ranked_mean(
    maps: list[torch.Tensor],
    start: int = ATTENTION["highlight_start"],
    count: int = ATTENTION["highlight_blocks"],
) -> torch.Tensor:
    """Soft map [B, L_img]: blocks ranked per batch item by total activation (sum of the
    map, highest first), the maps at ranks [start, start + count) (clamped, see
    `select_ranks`) averaged."""
    stacked = torch.stack([m.float() for m in maps])  # [n, B, L]
    start, count = select_ranks(len(maps), start, count)
    order = stacked.sum(dim=-1).argsort(dim=0, descending=True, stable=True)  # [n, B]
    chosen = order[start : start + count]  # [count, B]
    index = chosen[..., None].expand(-1, -1, stacked.shape[-1])
    return stacked.gather(0, index).mean(dim=0)


def row_multipliers(mask: torch.Tensor, mult_in: float = ATTENTION["mult_in"],
                    mult_out: float = ATTENTION["mult_out"]) -> torch.Tensor:
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


def _reweight(probs: torch.Tensor, text_len: int, top_k: int, mult: torch.Tensor) -> torch.Tensor:
    factor = torch.ones_like(probs[:, :1])  # [B, 1, L, L]
    factor[:, 0, text_len:, : min(top_k, text_len)] = mult.float()[:, :, None].to(probs.device)
    return probs * factor


def reweighted_probs(
    q, k, text_len: int, top_k: int, mult: torch.Tensor | None, attn_mask=None
) -> torch.Tensor:
    """The full attention matrix A' [B, H, L, L] (float32) after re-weighting.

    A = softmax(q k^T / sqrt(d)); rows of image queries get their weights on the first
    `top_k` text keys multiplied by `mult` [B, L_img]; nothing is renormalised.
    """
    probs = _scores(q, k, attn_mask).softmax(dim=-1)
    return probs if mult is None else _reweight(probs, text_len, top_k, mult)


def focus_heat(probs: torch.Tensor, text_len: int, focus: list[int]) -> torch.Tensor:
    """Heat [B, L_img]: image queries' probability on the focus columns, mean over heads and tokens."""
    return probs[:, :, text_len:, focus].mean(dim=(1, 3))


def attend_explicit(
    q, k, v, *, text_len: int, focus: list[int], top_k: int = ATTENTION["highlight_k"],
    mult: torch.Tensor | None = None, attn_mask=None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Reference: (output [B, H, L, D] in v's dtype, heat [B, L_img] or None without focus)."""
    plain = _scores(q, k, attn_mask).softmax(dim=-1)
    heat = focus_heat(plain, text_len, focus) if focus else None
    probs = plain if mult is None else _reweight(plain, text_len, top_k, mult)
    return (probs @ v.float()).to(v.dtype), heat


def attend_fused(
    q, k, v, *, text_len: int, focus: list[int], top_k: int = ATTENTION["highlight_k"],
    mult: torch.Tensor | None = None, attn_mask=None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Same result as `attend_explicit` with one scaled_dot_product_attention call.

    The value tensor is widened by one-hot columns selecting the keys whose probabilities
    are needed: the first K text keys (when re-weighting) and the focus tokens. The call
    returns O = P V and those columns of P; then P_txt V_txt = P[:, :K] V[:K] is a small
    [L_img, K] x [K, D] product. Fused kernels want q, k and v of one width, so q and k get
    zero columns (their dot products are unchanged; the scale stays 1 / sqrt(D)).
    For FLUX (D = 128, K = 15) the call is 144 wide instead of 128, at flash-attention memory.
    """
    b, h, n, d = v.shape
    k_eff = min(top_k, text_len) if mult is not None else 0
    cols = sorted(set(range(k_eff)) | set(focus))
    if not cols:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask), None
    width = d + len(cols)
    width += -width % 8  # fused kernels want aligned head dims
    select = torch.zeros(n, width - d, dtype=v.dtype, device=v.device)
    select[torch.tensor(cols, device=v.device), torch.arange(len(cols), device=v.device)] = 1
    aug = torch.cat([v, select.expand(b, h, n, width - d)], dim=-1)
    zeros = q.new_zeros(b, h, n, width - d)
    res = F.scaled_dot_product_attention(
        torch.cat([q, zeros], dim=-1), torch.cat([k, zeros], dim=-1), aug,
        attn_mask=attn_mask, scale=d**-0.5,
    )
    out = res[..., :d]
    picked = res[:, :, text_len:, d : d + len(cols)]  # P[image rows, cols]
    if mult is not None:
        ptv = picked[..., :k_eff] @ v[:, :, :k_eff]  # cols[:k_eff] == range(k_eff)
        scale = (mult.to(device=out.device, dtype=out.dtype) - 1)[:, None, :, None]
        out[:, :, text_len:] += scale * ptv  # res is ours: in place
    heat = None
    if focus:
        where = torch.tensor([cols.index(p) for p in focus], device=v.device)
        heat = picked.index_select(-1, where).float().mean(dim=(1, 3))
    return out.contiguous(), heat
