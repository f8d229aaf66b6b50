"""The attention processor installed in every FLUX attention block during an edit.

It computes what diffusers' FluxAttnProcessor computes (projections, QK RMS norms, added
text projections in double blocks, RoPE, scaled dot-product attention, output
projections) and asks its `AttentionHooks` for the two changes of the method:

- single-stream blocks: the value tensor may be stored (inversion) or replaced by a
  stored one (sampling), see `AttentionHooks.single_value`;
- double-stream blocks: while sampling with focus tokens, attention runs through
  `highlight.attend_*`, which records the focus heat and re-weights image->text weights.

State lives on the hooks object, not in joint_attention_kwargs: FluxAttention drops
keyword arguments its processor does not name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from diffusers.models.embeddings import apply_rotary_emb

if TYPE_CHECKING:
    from .attention import AttentionHooks


def project_qkv(attn, hidden_states, encoder_hidden_states=None):
    """q, k, v as [B, L, H, D] after the QK norms; in double blocks the text comes first."""
    if getattr(attn, "fused_projections", False):
        q, k, v = attn.to_qkv(hidden_states).chunk(3, dim=-1)
    else:
        q, k, v = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
    q, k, v = (x.unflatten(-1, (-1, attn.head_dim)) for x in (q, k, v))
    q, k = attn.norm_q(q), attn.norm_k(k)

    if encoder_hidden_states is not None and attn.added_kv_proj_dim is not None:
        if getattr(attn, "fused_projections", False) and hasattr(attn, "to_added_qkv"):
            eq, ek, ev = attn.to_added_qkv(encoder_hidden_states).chunk(3, dim=-1)
        else:
            eq = attn.add_q_proj(encoder_hidden_states)
            ek = attn.add_k_proj(encoder_hidden_states)
            ev = attn.add_v_proj(encoder_hidden_states)
        eq, ek, ev = (x.unflatten(-1, (-1, attn.head_dim)) for x in (eq, ek, ev))
        eq, ek = attn.norm_added_q(eq), attn.norm_added_k(ek)
        q, k, v = torch.cat([eq, q], dim=1), torch.cat([ek, k], dim=1), torch.cat([ev, v], dim=1)
    return q, k, v


class EditAttnProcessor:
    """FluxAttnProcessor with the editing hooks. `kind` is "double" or "single"."""

    def __init__(self, hooks: AttentionHooks, name: str, kind: str):
        if kind not in ("double", "single"):
            raise ValueError(f"kind must be 'double' or 'single', not {kind!r}")
        self.hooks, self.name, self.kind = hooks, name, kind

    def __call__(
        self,
        attn,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb=None,
    ):
        hooks = self.hooks
        q, k, v = project_qkv(attn, hidden_states, encoder_hidden_states)

        if self.kind == "single":
            v = hooks.single_value(self.name, v)
        else:
            hooks.check_text_len(encoder_hidden_states.shape[1])

        if image_rotary_emb is not None:
            q = apply_rotary_emb(q, image_rotary_emb, sequence_dim=1)
            k = apply_rotary_emb(k, image_rotary_emb, sequence_dim=1)

        q, k, v = (x.transpose(1, 2) for x in (q, k, v))  # [B, H, L, D]
        if self.kind == "double" and hooks.highlighting_now():
            out = hooks.highlight_attend(self.name, q, k, v, attention_mask)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask)
        out = out.transpose(1, 2).flatten(2, 3).to(q.dtype)

        if encoder_hidden_states is None:
            return out
        n_text = encoder_hidden_states.shape[1]
        text_out, image_out = out[:, :n_text], out[:, n_text:]
        image_out = attn.to_out[1](attn.to_out[0](image_out.contiguous()))
        text_out = attn.to_add_out(text_out.contiguous())
        return image_out, text_out
