"""Clean latents as bytes (safetensors), FLUX's 2x2 token packing, and the velocity call."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save


def latent_to_bytes(latent: torch.Tensor) -> bytes:
    """A clean latent [1, C, h, w] -> safetensors bytes (float32, shape in the metadata)."""
    t = latent.detach().to("cpu", torch.float32).contiguous()
    return st_save({"latent": t}, metadata={"shape": json.dumps(list(t.shape)), "format": "mtedit-latent-1"})


def latent_from_bytes(data: bytes) -> torch.Tensor:
    """Inverse of latent_to_bytes; ValueError for anything else."""
    try:
        tensors = st_load(bytes(data))
    except Exception as exc:  # safetensors raises its own error types
        raise ValueError(f"not a safetensors latent: {exc}") from exc
    if "latent" not in tensors:
        raise ValueError("safetensors data has no 'latent' tensor")
    t = tensors["latent"]
    if t.ndim != 4:
        raise ValueError(f"a latent is [1, C, h, w]; got shape {list(t.shape)}")
    return t.to(torch.float32)


def pack(latent: torch.Tensor) -> torch.Tensor:
    """[B, C, h, w] -> tokens [B, (h/2)(w/2), 4C]."""
    b, c, h, w = latent.shape
    x = latent.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // 2) * (w // 2), c * 4)


def unpack(tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Tokens [B, (h/2)(w/2), 4C] -> [B, C, h, w]."""
    b, _, d = tokens.shape
    x = tokens.view(b, h // 2, w // 2, d // 4, 2, 2).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, d // 4, h, w)


def image_ids(h: int, w: int) -> torch.Tensor:
    """Positions of the packed image tokens, [(h/2)(w/2), 3] (row, column in axes 1, 2)."""
    ids = torch.zeros(h // 2, w // 2, 3)
    ids[..., 1] = torch.arange(h // 2)[:, None]
    ids[..., 2] = torch.arange(w // 2)[None, :]
    return ids.reshape(-1, 3)


def flux_velocity(transformer, x: torch.Tensor, t: torch.Tensor, guidance: torch.Tensor | None,
                  pooled: torch.Tensor, seq: torch.Tensor, txt_ids: torch.Tensor,
                  img_ids: torch.Tensor) -> torch.Tensor:
    """The FLUX transformer's velocity v(x, t, c) for packed tokens x [B, L, 4C].

    t and guidance are per-sample [B] (guidance None for models without the guidance
    embedding); pooled / seq are the CLIP and T5 embeddings of the prompt.
    """
    return transformer(
        hidden_states=x,
        timestep=t,
        guidance=guidance,
        pooled_projections=pooled,
        encoder_hidden_states=seq,
        txt_ids=txt_ids,
        img_ids=img_ids,
        return_dict=False,
    )[0]
