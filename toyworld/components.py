"""The parts of the bundled toy FLUX model, built from the world's vocabulary.

Same classes and folder layout as FLUX.1-dev (diffusers `FluxPipeline`), only small:
a word-level tokenizer, 2-layer CLIP and T5 text encoders, an AutoencoderKL with
8 latent channels and 4x downsampling, and a FluxTransformer2DModel with a guidance
embedding. `save_folder` writes a folder `FluxPipeline.from_pretrained` loads offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    PreTrainedTokenizerFast,
    T5Config,
    T5EncoderModel,
)

from .world import vocabulary

MAX_TOKENS = 28  # longest 2-object caption is 25 tokens with BOS/EOS; longer prompts are truncated
LATENT_CHANNELS = 8
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]


def build_tokenizers() -> tuple[PreTrainedTokenizerFast, PreTrainedTokenizerFast]:
    """(CLIP-style with BOS/EOS, T5-style with EOS), both word level over the world."""
    vocab = {w: i for i, w in enumerate(SPECIALS + vocabulary())}
    out = []
    for template in ("<s> $A </s>", "$A </s>"):
        tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        tok.post_processor = processors.TemplateProcessing(
            single=template, special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])]
        )
        out.append(
            PreTrainedTokenizerFast(
                tokenizer_object=tok,
                bos_token="<s>",
                eos_token="</s>",
                pad_token="<pad>",
                unk_token="<unk>",
                model_max_length=MAX_TOKENS,
            )
        )
    return out[0], out[1]


def build_text_encoders(vocab_size: int, width: int = 64) -> tuple[CLIPTextModel, T5EncoderModel]:
    ids = {name: i for i, name in enumerate(SPECIALS)}
    clip = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=width,
            intermediate_size=2 * width,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=MAX_TOKENS,
            projection_dim=width,
            pad_token_id=ids["<pad>"],
            bos_token_id=ids["<s>"],
            eos_token_id=ids["</s>"],
        )
    )
    t5 = T5EncoderModel(
        T5Config(
            vocab_size=vocab_size,
            d_model=width,
            d_kv=width // 4,
            d_ff=2 * width,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=16,
            relative_attention_max_distance=MAX_TOKENS,
            dropout_rate=0.0,
            pad_token_id=ids["<pad>"],
            eos_token_id=ids["</s>"],
            decoder_start_token_id=ids["<pad>"],
        )
    )
    return clip, t5


def build_vae() -> AutoencoderKL:
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(32, 64, 64),
        layers_per_block=1,
        latent_channels=LATENT_CHANNELS,
        norm_num_groups=16,
        sample_size=64,
        mid_block_add_attention=False,
    )


def build_transformer(text_width: int = 64) -> FluxTransformer2DModel:
    return FluxTransformer2DModel(
        patch_size=1,
        in_channels=4 * LATENT_CHANNELS,
        num_layers=3,
        num_single_layers=6,
        attention_head_dim=32,
        num_attention_heads=4,
        joint_attention_dim=text_width,
        pooled_projection_dim=text_width,
        guidance_embeds=True,
        axes_dims_rope=(8, 12, 12),
    )


def build_scheduler() -> FlowMatchEulerDiscreteScheduler:
    # FLUX.1-dev's scheduler settings (dynamic shift by token count).
    return FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000,
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )


def save_folder(folder: str | Path, *, vae, transformer, clip, t5, tokenizer, tokenizer_2) -> Path:
    """Write a diffusers-format FLUX folder (fp16 weights, loaded as float32 on CPU)."""
    from diffusers import FluxPipeline

    folder = Path(folder)
    pipe = FluxPipeline(
        scheduler=build_scheduler(),
        vae=vae,
        text_encoder=clip,
        tokenizer=tokenizer,
        text_encoder_2=t5,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )
    pipe.to(torch.float16)
    try:
        pipe.save_pretrained(folder, safe_serialization=True)
    finally:
        pipe.to(torch.float32)
    return folder


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
