"""Tiny random FLUX models in diffusers format, built locally for tests and smoke runs.

The folder has the same layout as FLUX.1 [dev] / [schnell] on the Hugging Face Hub
(model_index.json, transformer/, vae/, text_encoder/, text_encoder_2/, tokenizer/,
tokenizer_2/, scheduler/), so it is loaded by the same code as the real weights.
Nothing is downloaded: the tokenizers are word-level models built with `tokenizers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from editing_core.schedule import DEV_SHIFT

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


def word_tokenizer(words, *, specials, template, pad, unk, model_max_length, **special_names):
    """A word-level fast tokenizer over `specials` + `words` (ids in that order) and its vocab."""
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


@dataclass(frozen=True)
class TinyFlux:
    """The shape of a small FLUX: FLUX.1's classes and folder layout, tiny sizes.

    The defaults are the test model; the toy world's bundled model is another
    instance (toyworld/components.py). `text_*` size the CLIP and T5 encoders,
    `vae_*` the AutoencoderKL, `layers` the (double, single) transformer blocks.
    guidance_embeds=True is [dev]-style (guidance input, shifted schedule), False
    [schnell]-style (neither).
    """

    text_width: int = 64
    text_positions: int = 77  # CLIP's position embeddings
    t5_buckets: int = 32  # T5 relative attention buckets ...
    t5_max_distance: int = 128  # ... and their range
    text_dropout: float = 0.1
    latent_channels: int = 4
    vae_channels: tuple[int, ...] = (32, 32, 64)
    vae_sample_size: int = 32
    vae_quant_conv: bool = False
    vae_mid_attention: bool = True
    scaling_factor: float = 0.3611
    shift_factor: float | None = 0.1159
    layers: tuple[int, int] = (2, 2)
    guidance_embeds: bool = True

    def text_encoders(self, tokenizer, tokenizer_2):
        """(CLIPTextModel, T5EncoderModel) for these tokenizers' vocabularies."""
        from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

        w = self.text_width
        clip = CLIPTextModel(CLIPTextConfig(
            vocab_size=len(tokenizer), hidden_size=w, intermediate_size=2 * w,
            projection_dim=w, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=self.text_positions, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
        t5 = T5EncoderModel(T5Config(
            vocab_size=len(tokenizer_2), d_model=w, d_kv=w // 4, d_ff=2 * w, num_layers=2,
            num_heads=4, relative_attention_num_buckets=self.t5_buckets,
            relative_attention_max_distance=self.t5_max_distance, dropout_rate=self.text_dropout,
            pad_token_id=tokenizer_2.pad_token_id, eos_token_id=tokenizer_2.eos_token_id,
            decoder_start_token_id=tokenizer_2.pad_token_id))
        return clip, t5

    def vae(self):
        from diffusers import AutoencoderKL

        n = len(self.vae_channels)
        return AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=self.latent_channels,
            block_out_channels=self.vae_channels, down_block_types=("DownEncoderBlock2D",) * n,
            up_block_types=("UpDecoderBlock2D",) * n, layers_per_block=1, norm_num_groups=16,
            sample_size=self.vae_sample_size, scaling_factor=self.scaling_factor,
            shift_factor=self.shift_factor, use_quant_conv=self.vae_quant_conv,
            use_post_quant_conv=self.vae_quant_conv, mid_block_add_attention=self.vae_mid_attention)

    def transformer(self):
        from diffusers import FluxTransformer2DModel

        return FluxTransformer2DModel(
            patch_size=1,
            in_channels=4 * self.latent_channels,  # 2x2 packing: the pipeline reads in_channels // 4
            num_layers=self.layers[0], num_single_layers=self.layers[1], attention_head_dim=32,
            num_attention_heads=4, joint_attention_dim=self.text_width,
            pooled_projection_dim=self.text_width, guidance_embeds=self.guidance_embeds,
            axes_dims_rope=(8, 12, 12))

    def scheduler(self):
        """FLUX.1-dev's resolution shift (editing_core.schedule) or, for schnell, none."""
        from diffusers import FlowMatchEulerDiscreteScheduler

        if self.guidance_embeds:
            return FlowMatchEulerDiscreteScheduler(**DEV_SHIFT)
        return FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False)


def save_flux_folder(folder: str | Path, *, scheduler, vae, transformer, text_encoder, tokenizer,
                     text_encoder_2, tokenizer_2, dtype: torch.dtype | None = None) -> Path:
    """Write the parts as a diffusers-format FLUX folder (in `dtype`, e.g. fp16, if given)."""
    from diffusers import FluxPipeline

    folder = Path(folder)
    pipe = FluxPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder,
                        tokenizer=tokenizer, text_encoder_2=text_encoder_2,
                        tokenizer_2=tokenizer_2, transformer=transformer)
    if dtype is None:
        pipe.save_pretrained(folder)
        return folder
    pipe.to(dtype)
    try:
        pipe.save_pretrained(folder, safe_serialization=True)
    finally:
        pipe.to(torch.float32)
    return folder


def tiny_tokenizers(words: list[str] | None = None, t5_max_length: int = 64):
    """(CLIP-style, T5-style) word-level tokenizers over `words` (default: DEFAULT_WORDS),
    with FLUX's special tokens: <|startoftext|> / <|endoftext|> for CLIP, </s> for T5."""
    words = sorted(set(DEFAULT_WORDS if words is None else [w.lower() for w in words]))
    bos, eos, unk = "<|startoftext|>", "<|endoftext|>", "<|unk|>"
    clip_tok, _ = word_tokenizer(words, specials=[bos, eos, unk], template=f"{bos} $A {eos}",
                                 pad=eos, unk=unk, model_max_length=77, bos_token=bos,
                                 eos_token=eos)
    t5_tok, _ = word_tokenizer(words, specials=["<pad>", "</s>", "<unk>"], template="$A </s>",
                               pad="<pad>", unk="<unk>", model_max_length=t5_max_length,
                               eos_token="</s>")
    return clip_tok, t5_tok


def build_tiny_flux(
    folder: str | Path,
    *,
    guidance_embeds: bool = True,
    seed: int = 0,
    words: list[str] | None = None,
    width: int = 64,
    layers: tuple[int, int] = (2, 2),
    t5_max_length: int = 64,
    sample_size: int = 64,
) -> Path:
    """Write a tiny random diffusers-format FLUX to `folder` and return its path.

    guidance_embeds=True gives a [dev]-style model (guidance input, shifted schedule);
    False gives a [schnell]-style model (no guidance embedding, no shift).
    `width` is the text-encoder width; `layers` the (double, single) block counts.
    `sample_size` is the image side the model says it was trained at (its editing grid).
    """
    spec = TinyFlux(text_width=width, layers=layers, guidance_embeds=guidance_embeds,
                    vae_sample_size=sample_size)
    torch.manual_seed(seed)
    clip_tok, t5_tok = tiny_tokenizers(words, t5_max_length)
    clip, t5 = spec.text_encoders(clip_tok, t5_tok)
    return save_flux_folder(folder, scheduler=spec.scheduler(), vae=spec.vae(),
                            transformer=spec.transformer(), text_encoder=clip, tokenizer=clip_tok,
                            text_encoder_2=t5, tokenizer_2=t5_tok)


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
