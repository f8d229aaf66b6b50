"""The parts of the bundled toy FLUX model, built from the world's vocabulary.

Same classes and folder layout as FLUX.1-dev (diffusers `FluxPipeline`), only small:
a word-level tokenizer, 2-layer CLIP and T5 text encoders, an AutoencoderKL with
8 latent channels and 4x downsampling, and a FluxTransformer2DModel with a guidance
embedding: `SPEC`, one instance of the editing core's tiny-FLUX builder.
`save_folder` writes a folder `FluxPipeline.from_pretrained` loads offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast

from editing_core.testing import TinyFlux, save_flux_folder, word_tokenizer

from .world import vocabulary

MAX_TOKENS = 28  # longest 2-object caption is 25 tokens with BOS/EOS; longer prompts are truncated
LATENT_CHANNELS = 8
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]

SPEC = TinyFlux(
    text_width=64,
    text_positions=MAX_TOKENS,
    t5_buckets=16,
    t5_max_distance=MAX_TOKENS,
    text_dropout=0.0,
    latent_channels=LATENT_CHANNELS,
    vae_channels=(32, 64, 64),
    vae_sample_size=64,
    vae_quant_conv=True,
    vae_mid_attention=False,
    scaling_factor=0.18215,  # diffusers' default; the trainer sets the real ones on export
    shift_factor=None,
    layers=(3, 6),
    guidance_embeds=True,
)


def build_tokenizers() -> tuple[PreTrainedTokenizerFast, PreTrainedTokenizerFast]:
    """(CLIP-style with BOS/EOS, T5-style with EOS), both word level over the world."""
    out = []
    for template in ("<s> $A </s>", "$A </s>"):
        tok, _ = word_tokenizer(vocabulary(), specials=SPECIALS, template=template, pad="<pad>",
                                unk="<unk>", model_max_length=MAX_TOKENS, bos_token="<s>",
                                eos_token="</s>")
        out.append(tok)
    return out[0], out[1]


def build_text_encoders(tokenizer, tokenizer_2):
    return SPEC.text_encoders(tokenizer, tokenizer_2)


def build_vae():
    return SPEC.vae()


def build_transformer():
    return SPEC.transformer()


def save_folder(folder: str | Path, *, vae, transformer, clip, t5, tokenizer, tokenizer_2) -> Path:
    """Write a diffusers-format FLUX folder (fp16 weights, loaded as float32 on CPU)."""
    return save_flux_folder(folder, scheduler=SPEC.scheduler(), vae=vae, transformer=transformer,
                            text_encoder=clip, tokenizer=tokenizer, text_encoder_2=t5,
                            tokenizer_2=tokenizer_2, dtype=torch.float16)


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
