"""GPU check: the full FLUX.1-dev architecture with random bf16 weights, timed per preset.

    python bench/gpu_check.py                      # CUDA: 512^2 and 1024^2, every preset
    python bench/gpu_check.py --model /path/FLUX.1-dev   # the same with real weights
    python bench/gpu_check.py --tiny               # the same code, shrunk, on the CPU (smoke run)

For each size: one warm-up edit, then one timed edit per preset (default step counts) with
its NFE, seconds, seconds per model call and peak accelerator memory; then one transformer
forward with diffusers' default attention processor against the highlighting processor
(fused and explicit), timed while the mask is active. Random weights make the images
meaningless; the timings and memory are those of the real architecture.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.reconstruct import calibration_card
from editing_core.backend import FluxBackend
from editing_core.latents import image_ids
from editing_core.presets import PRESETS

SOURCE, TARGET, FOCUS = "a photo of a cat on a chair", "a photo of a dog on a chair", ["dog"]


def build_flux_dev(device: torch.device, dtype: torch.dtype, tiny: bool = False) -> FluxBackend:
    """FLUX.1-dev's architecture (transformer, VAE, CLIP-L, T5-XXL) with random weights,
    created directly on `device` in `dtype` (no 48 GB float32 detour through the CPU).

    tiny=True keeps the layout but shrinks widths and depths: the CPU smoke run of this
    very code path."""
    from diffusers import AutoencoderKL, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    from editing_core.schedule import DEV_SHIFT
    from editing_core.testing import tiny_tokenizers

    clip_tok, t5_tok = tiny_tokenizers(t5_max_length=64 if tiny else 512)
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            transformer = FluxTransformer2DModel(
                patch_size=1, in_channels=64, num_layers=2 if tiny else 19,
                num_single_layers=2 if tiny else 38, attention_head_dim=32 if tiny else 128,
                num_attention_heads=2 if tiny else 24, joint_attention_dim=64 if tiny else 4096,
                pooled_projection_dim=64 if tiny else 768, guidance_embeds=True,
                axes_dims_rope=(8, 12, 12) if tiny else (16, 56, 56))
            vae = AutoencoderKL(
                in_channels=3, out_channels=3, latent_channels=16,
                down_block_types=("DownEncoderBlock2D",) * 4,
                up_block_types=("UpDecoderBlock2D",) * 4,
                block_out_channels=(16, 16, 32, 32) if tiny else (128, 256, 512, 512),
                layers_per_block=1 if tiny else 2, norm_num_groups=8 if tiny else 32,
                scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False,
                use_post_quant_conv=False, sample_size=1024)  # FLUX.1-dev's own side
            clip = CLIPTextModel(CLIPTextConfig(
                vocab_size=49408, hidden_size=64 if tiny else 768,
                intermediate_size=128 if tiny else 3072, num_hidden_layers=2 if tiny else 12,
                num_attention_heads=2 if tiny else 12, max_position_embeddings=77,
                hidden_act="quick_gelu", projection_dim=64 if tiny else 768,
                bos_token_id=clip_tok.bos_token_id, eos_token_id=clip_tok.eos_token_id,
                pad_token_id=clip_tok.pad_token_id))
            t5 = T5EncoderModel(T5Config(
                vocab_size=32128, d_model=64 if tiny else 4096, d_kv=32 if tiny else 64,
                d_ff=128 if tiny else 10240, num_layers=2 if tiny else 24,
                num_heads=2 if tiny else 64, feed_forward_proj="gated-gelu",
                is_encoder_decoder=False, use_cache=False))
    finally:
        torch.set_default_dtype(old)
    return FluxBackend(transformer=transformer, vae=vae, text_encoder=clip, tokenizer=clip_tok,
                       text_encoder_2=t5, tokenizer_2=t5_tok, scheduler_config=DEV_SHIFT,
                       model_id="random FLUX.1-dev architecture" + (", shrunk" if tiny else ""),
                       device=device, dtype=dtype,
                       max_side=4096)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gib(device) -> float | None:
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)


def time_presets(backend, size, presets, steps, log) -> list[dict]:
    img = calibration_card(size)
    overrides = {"steps": steps} if steps else {}
    backend.edit(img, SOURCE, TARGET, focus_words=FOCUS, overrides={"steps": 2})  # warm-up
    rows = []
    for name in presets:
        _reset_peak(backend.device)
        start = time.perf_counter()
        r = backend.edit(img, SOURCE, TARGET, focus_words=FOCUS, preset=name, overrides=overrides)
        _sync(backend.device)
        seconds = time.perf_counter() - start
        row = {"size": size, "preset": name, "steps": r.params["steps"], "nfe": r.nfe,
               "seconds": round(seconds, 3), "s_per_nfe": round(seconds / r.nfe, 4),
               "peak_gib": _peak_gib(backend.device),
               "phases": {k: round(v, 3) for k, v in r.timings.items()}}
        rows.append(row)
        log(f"| {size} | {name} | {row['steps']} | {row['nfe']} | {row['seconds']:.2f} | "
            f"{row['s_per_nfe']:.3f} | {row['peak_gib']} |")
    return rows


@torch.no_grad()
def time_highlighting(backend, size, repeats, log) -> list[dict]:
    """One transformer forward: diffusers' default processor vs the highlighting processor."""
    from editing_core.attention import AttentionHooks
    from editing_core.focus import focus_token_positions

    lh = lw = size // backend.vae_scale_factor
    text_len = backend.text_length()
    emb = backend.encode_prompt(TARGET, text_len)
    focus = focus_token_positions(backend.tokenizer_2, TARGET, FOCUS, text_len)
    grid = [float(t) for t in backend.timesteps(8, (lh, lw))]
    g = torch.Generator("cpu").manual_seed(0)
    x = torch.randn(1, (lh // 2) * (lw // 2), 4 * backend.latent_channels, generator=g)
    x = x.to(backend.device)
    ids = image_ids(lh, lw).to(backend.device, backend.dtype)
    rows = []
    for impl in ("default", "fused", "explicit"):
        _reset_peak(backend.device)
        times = []
        try:
            if impl == "default":
                for _ in range(repeats + 1):
                    _sync(backend.device)
                    start = time.perf_counter()
                    backend._forward(x, 0.5, emb, 3.5, ids)
                    _sync(backend.device)
                    times.append(time.perf_counter() - start)
                times = times[1:]
            else:
                hooks = AttentionHooks(backend.transformer, timesteps=grid, inject_steps=0,
                                       highlight=True, focus_positions=focus, text_len=text_len,
                                       params={"highlight_impl": impl})
                with hooks:
                    for step in range(len(grid) - 1):  # mask active from step 4
                        t = 0.5 * (grid[step] + grid[step + 1])
                        hooks.set_call(phase="sample", step=step, t=t, substep="mid")
                        _sync(backend.device)
                        start = time.perf_counter()
                        backend._forward(x, t, emb, 3.5, ids)
                        _sync(backend.device)
                        if step >= hooks.params["highlight_from_step"]:
                            times.append(time.perf_counter() - start)
                if hooks.counts["highlighted"] == 0:
                    raise RuntimeError("the highlighting mask never became active")
        except torch.OutOfMemoryError:
            rows.append({"size": size, "processor": impl, "ms": None, "peak_gib": "OOM"})
            log(f"| {size} | {impl} | OOM | |")
            continue
        ms = 1000 * sum(times) / len(times)
        rows.append({"size": size, "processor": impl, "ms": round(ms, 2),
                     "peak_gib": _peak_gib(backend.device)})
        log(f"| {size} | {impl} | {ms:.1f} | {rows[-1]['peak_gib']} |")
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true",
                   help="the same architecture shrunk, random float32 on the CPU (smoke run)")
    p.add_argument("--model", help="a real diffusers FLUX.1 folder instead of random weights")
    p.add_argument("--sizes", help="comma-separated square sizes (default 512,1024; tiny 32,64)")
    p.add_argument("--presets", default=",".join(PRESETS))
    p.add_argument("--steps", type=int, help="steps for every preset (default: each preset's)")
    p.add_argument("--repeats", type=int, default=3, help="forwards timed per processor")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    if args.tiny:
        backend = build_flux_dev(torch.device("cpu"), torch.float32, tiny=True)
        sizes = args.sizes or "64,128"
    else:
        if not torch.cuda.is_available():
            print("no CUDA device: run with --tiny for a CPU smoke run", file=sys.stderr)
            return 2
        device = torch.device("cuda")
        if args.model:
            backend = FluxBackend.from_pretrained(args.model, device="cuda", dtype="bfloat16",
                                                  max_side=4096)
        else:
            backend = build_flux_dev(device, torch.bfloat16)
        sizes = args.sizes or "512,1024"
    build_s = time.perf_counter() - t0
    presets = [s.strip() for s in args.presets.split(",") if s.strip()]
    steps = args.steps if args.steps else (2 if args.tiny else None)
    device_name = (torch.cuda.get_device_name(backend.device) if backend.device.type == "cuda"
                   else platform.processor() or "cpu")
    print(f"model: {backend.model_id} on {device_name} ({str(backend.dtype).removeprefix('torch.')}); "
          f"built in {build_s:.1f} s; torch {torch.__version__}")
    out = {"device": device_name, "dtype": str(backend.dtype), "model": backend.model_id,
           "presets": [], "highlighting": []}
    print("\n| size | preset | steps | NFE | seconds | s/NFE | peak GiB |\n|---|---|---|---|---|---|---|")
    for size in [int(s) for s in sizes.split(",")]:
        out["presets"] += time_presets(backend, size, presets, steps, print)
    print("\n| size | attention processor | ms / forward | peak GiB |\n|---|---|---|---|")
    for size in [int(s) for s in sizes.split(",")]:
        out["highlighting"] += time_highlighting(backend, size, args.repeats, print)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
