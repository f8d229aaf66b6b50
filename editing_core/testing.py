"""Tiny random FLUX models in diffusers format, built locally for tests and smoke runs.

The folder has the same layout as FLUX.1 [dev] / [schnell] on the Hugging Face Hub
(model_index.json, transformer/, vae/, text_encoder/, text_encoder_2/, tokenizer/,
tokenizer_2/, scheduler/), so it is loaded by the same code as the real weights.
Nothing is downloaded: the tokenizers are word-level models built with `tokenizers`.
"""

from __future__ import annotations

from pathlib import Path

import torch

# A small English vocabulary: enough for test prompts and the planner's recipes.
DEFAULT_WORDS = """
a an the of and with in on at to from by for under over near behind beside front back
photo picture image painting drawing sketch render scene view portrait landscape close up
cat dog bird horse cow fish person man woman child girl boy face hat scarf glasses coat
dress shirt shoe bag car bike boat house tree flower grass sky cloud sun moon star mountain
river lake sea beach road street city forest field garden room table chair window door wall
cup bottle apple ball box book lamp clock circle square triangle shape object background
red orange yellow green blue purple pink brown black white gray grey gold silver colour color
big small large tiny tall short round bright dark light soft warm cold old new vintage
retro modern winter summer autumn spring snow rain fog night day sunset sunrise morning
evening happy sad smiling wearing holding sitting standing running flying sleeping
style sepia film grain faded noir watercolor oil cartoon anime pixel neon golden hour
make turn add remove more less very is are it its this that there one two three
""".split()  # noqa: SIM905 - one word list, easy to edit


def _word_tokenizer(words, *, specials, template, pad, unk, model_max_length, **special_names):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for w in [*specials, *words]:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(s, vocab[s]) for s in specials if s in template]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=pad,
        unk_token=unk,
        model_max_length=model_max_length,
        **special_names,
    )
    return fast, vocab


def build_tiny_flux(
    folder: str | Path,
    *,
    guidance_embeds: bool = True,
    seed: int = 0,
    words: list[str] | None = None,
    width: int = 64,
    layers: tuple[int, int] = (2, 2),
    t5_max_length: int = 64,
) -> Path:
    """Write a tiny random diffusers-format FLUX to `folder` and return its path.

    guidance_embeds=True gives a [dev]-style model (guidance input, shifted schedule);
    False gives a [schnell]-style model (no guidance embedding, no shift).
    `width` is the text-encoder width; `layers` the (double, single) block counts.
    """
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        FluxPipeline,
        FluxTransformer2DModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    folder = Path(folder)
    words = sorted(set(DEFAULT_WORDS if words is None else [w.lower() for w in words]))
    torch.manual_seed(seed)

    clip_tok, clip_vocab = _word_tokenizer(
        words,
        specials=["<|startoftext|>", "<|endoftext|>", "<|unk|>"],
        template="<|startoftext|> $A <|endoftext|>",
        pad="<|endoftext|>",
        unk="<|unk|>",
        model_max_length=77,
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
    )
    t5_tok, t5_vocab = _word_tokenizer(
        words,
        specials=["<pad>", "</s>", "<unk>"],
        template="$A </s>",
        pad="<pad>",
        unk="<unk>",
        model_max_length=t5_max_length,
        eos_token="</s>",
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(clip_vocab),
            hidden_size=width,
            intermediate_size=2 * width,
            projection_dim=width,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            bos_token_id=clip_vocab["<|startoftext|>"],
            eos_token_id=clip_vocab["<|endoftext|>"],
            pad_token_id=clip_vocab["<|endoftext|>"],
        )
    )
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=len(t5_vocab),
            d_model=width,
            d_kv=width // 4,
            d_ff=2 * width,
            num_layers=2,
            num_heads=4,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    )
    latent_channels = 4
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=latent_channels,
        block_out_channels=(32, 32, 64),
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        layers_per_block=1,
        norm_num_groups=16,
        scaling_factor=0.3611,
        shift_factor=0.1159,
        use_quant_conv=False,
        use_post_quant_conv=False,
    )
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=4 * latent_channels,  # 2x2 packing: the pipeline reads in_channels // 4
        num_layers=layers[0],
        num_single_layers=layers[1],
        attention_head_dim=32,
        num_attention_heads=4,
        joint_attention_dim=width,
        pooled_projection_dim=width,
        guidance_embeds=guidance_embeds,
        axes_dims_rope=(8, 12, 12),
    )
    if guidance_embeds:  # FLUX.1-dev: resolution-dependent shift
        scheduler = FlowMatchEulerDiscreteScheduler(
            shift=3.0,
            use_dynamic_shifting=True,
            base_shift=0.5,
            max_shift=1.15,
            base_image_seq_len=256,
            max_image_seq_len=4096,
        )
    else:  # FLUX.1-schnell: no shift
        scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False)
    pipe = FluxPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=clip_tok,
        text_encoder_2=text_encoder_2,
        tokenizer_2=t5_tok,
        transformer=transformer,
    )
    pipe.save_pretrained(folder)
    return folder


_TINY: dict[bool, Path] = {}


def tiny_random_folder(guidance_embeds: bool = True) -> Path:
    """A tiny random FLUX in a temporary folder, built once per process ('tiny-random')."""
    import atexit
    import shutil
    import tempfile

    if guidance_embeds not in _TINY:
        tmp = Path(tempfile.mkdtemp(prefix="mtedit-tiny-flux-"))
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        _TINY[guidance_embeds] = build_tiny_flux(tmp / "model", guidance_embeds=guidance_embeds)
    return _TINY[guidance_embeds]
