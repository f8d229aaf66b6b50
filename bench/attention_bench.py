"""Time the editing attention processors against diffusers' default on a FLUX transformer.

    python bench/attention_bench.py                      # mid-size model, CPU, 512 px
    python bench/attention_bench.py --size small --res 256 --repeats 3
    python bench/attention_bench.py --size flux-dev --device cuda --dtype bfloat16 --res 1024

Modes, one transformer forward each (random weights, sampling step with an active mask):
  default   diffusers' FluxAttnProcessor
  hooks     our processor with injection and highlighting off (its bare overhead)
  explicit  highlighting, reference implementation (materialises L x L per double block)
  fused     highlighting, one fused attention call per double block
Modes are timed interleaved in one process (median per mode). Peak memory of one forward
above the loaded model: on CUDA the allocator's peak; on CPU the peak resident memory,
each mode in its own process.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time

import torch

SIZES = {
    "small": {"num_layers": 2, "num_single_layers": 4, "attention_head_dim": 64, "num_attention_heads": 4,
                  "joint_attention_dim": 256, "pooled_projection_dim": 128, "axes_dims_rope": (16, 24, 24)},
    "mid": {"num_layers": 4, "num_single_layers": 8, "attention_head_dim": 64, "num_attention_heads": 8,
                "joint_attention_dim": 512, "pooled_projection_dim": 256, "axes_dims_rope": (16, 24, 24)},
    "flux-dev": {"num_layers": 19, "num_single_layers": 38, "attention_head_dim": 128, "num_attention_heads": 24,
                     "joint_attention_dim": 4096, "pooled_projection_dim": 768, "axes_dims_rope": (16, 56, 56)},
}
MODES = ("default", "hooks", "explicit", "fused")


def build(size: str, device: str, dtype: torch.dtype):
    from diffusers import FluxTransformer2DModel

    torch.manual_seed(0)
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # build in the target dtype: FLUX.1-dev in fp32 is 48 GB
    try:
        with torch.device(device):
            model = FluxTransformer2DModel(patch_size=1, in_channels=64, guidance_embeds=True, **SIZES[size])
    finally:
        torch.set_default_dtype(before)
    return model.eval()


def inputs(model, res: int, text_len: int, batch: int, device: str, dtype: torch.dtype):
    side = res // 16  # 8x VAE, 2x2 packing
    cfg = model.config
    g = torch.Generator().manual_seed(1)
    ids = torch.zeros(side, side, 3)
    ids[..., 1] = torch.arange(side)[:, None]
    ids[..., 2] = torch.arange(side)[None]
    rand = lambda *s: torch.randn(*s, generator=g).to(device, dtype)
    return {
        "hidden_states": rand(batch, side * side, cfg.in_channels),
        "encoder_hidden_states": rand(batch, text_len, cfg.joint_attention_dim),
        "pooled_projections": rand(batch, cfg.pooled_projection_dim),
        "img_ids": ids.reshape(-1, 3).to(device), "txt_ids": torch.zeros(text_len, 3, device=device),
        "guidance": torch.full((batch,), 3.5, device=device, dtype=dtype),
        "timestep": torch.full((batch,), 0.5, device=device, dtype=dtype),
    }


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        line = next(ln for ln in f if ln.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def reset_rss_peak() -> float:
    """Give freed memory back, reset the resident high-water mark; return the current RSS (MiB)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
    return _status_mib("VmRSS")


class Runner:
    """One model, one processor set per mode; each timed forward is an active-mask sampling step."""

    def __init__(self, args, modes):
        from editing_core.attention import AttentionHooks

        self.args, self.dtype = args, getattr(torch, args.dtype)
        self.model = build(args.size, args.device, self.dtype)
        self.x = inputs(self.model, args.res, args.text_len, args.batch, args.device, self.dtype)
        self.grid = torch.linspace(1, 0, 10_001)
        self.procs = {"default": dict(self.model.attn_processors)}
        self.hooks, self.step = {}, {}
        for mode in modes:
            if mode == "default":
                continue
            hooks = AttentionHooks(
                self.model, self.grid, highlight=mode in ("explicit", "fused"), focus_positions=[2, 3],
                text_len=args.text_len,
                params={"highlight_from_step": 1, "highlight_impl": "explicit" if mode == "explicit" else "fused"},
            )
            with hooks:
                self.procs[mode] = dict(self.model.attn_processors)
            self.hooks[mode], self.step[mode] = hooks, 0
        for mode in self.hooks:  # step 0 records the block maps; from step 1 on a mask is active
            self.forward(mode)
        # inputs of one double block's attention, for timing the processor alone
        cfg, x = self.model.config, self.x
        dim = cfg.num_attention_heads * cfg.attention_head_dim
        g = torch.Generator().manual_seed(2)
        n_img = x["hidden_states"].shape[1]
        self.attn_args = {
            "hidden_states": torch.randn(args.batch, n_img, dim, generator=g).to(args.device, self.dtype),
            "encoder_hidden_states": torch.randn(args.batch, args.text_len, dim, generator=g).to(args.device, self.dtype),
            "image_rotary_emb": self.model.pos_embed(torch.cat([x["txt_ids"], x["img_ids"]])),
        }

    def attention(self, mode) -> float:
        """Time one double-stream block's attention under the mode's processor."""
        self.model.set_attn_processor(dict(self.procs[mode]))
        attn = self.model.transformer_blocks[0].attn
        sync(self.args.device)
        t0 = time.perf_counter()
        with torch.no_grad():
            attn(**self.attn_args)
        sync(self.args.device)
        return time.perf_counter() - t0

    def forward(self, mode) -> float:
        self.model.set_attn_processor(dict(self.procs[mode]))
        hooks = self.hooks.get(mode)
        if hooks:
            step = self.step[mode]
            hooks.set_call("sample", step, float(self.grid[step]), "start")
            self.step[mode] = step + 1
        sync(self.args.device)
        t0 = time.perf_counter()
        with torch.no_grad():
            self.model(**self.x, return_dict=False)
        sync(self.args.device)
        elapsed = time.perf_counter() - t0
        if hooks and mode != "hooks" and self.step[mode] > 1:
            assert hooks.last_mask is not None and hooks.counts["highlighted"] > 0
        return elapsed


def time_modes(args, modes) -> dict[str, tuple[float, float]]:
    """Median ms per forward and per double-block attention call, modes interleaved so
    that changes in machine load hit all modes alike."""
    runner = Runner(args, modes)
    fwd, att = {m: [] for m in modes}, {m: [] for m in modes}
    for rep in range(args.warmup + args.repeats):
        for mode in modes:
            t = runner.forward(mode)
            a = statistics.median(runner.attention(mode) for _ in range(3))
            if rep >= args.warmup:
                fwd[mode].append(t)
                att[mode].append(a)
    return {m: (1000 * statistics.median(fwd[m]), 1000 * statistics.median(att[m])) for m in modes}


def peak_mib(args, mode) -> float:
    """Peak memory of one forward above the loaded model (CUDA allocator / CPU RSS)."""
    runner = Runner(args, [mode])
    runner.forward(mode)  # warm: first-call allocations are not the mode's
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = reset_rss_peak()
    runner.forward(mode)
    if cuda:
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    return _status_mib("VmHWM") - base


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=SIZES, default="mid")
    p.add_argument("--res", type=int, default=512, help="image side in pixels (tokens: (res/16)^2)")
    p.add_argument("--text-len", type=int, default=128)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default=None, help="float32 (CPU default) or bfloat16 (CUDA default)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--only", choices=MODES, help=argparse.SUPPRESS)  # one mode, JSON out
    args = p.parse_args(argv)
    args.dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.only:
        print(json.dumps({"mode": args.only, "peak_mib": peak_mib(args, args.only)}))
        return 0

    modes = [m for m in args.modes.split(",") if m]
    ms = time_modes(args, modes)
    peaks = {}
    for mode in modes:
        if args.device == "cpu":  # peak RSS is per process: one process per mode
            cmd = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]), "--only", mode]
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                return out.returncode
            peaks[mode] = json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]
        else:
            torch.cuda.empty_cache()
            peaks[mode] = peak_mib(args, mode)
    rows = [{"mode": m, "ms": ms[m][0], "attn_ms": ms[m][1], "peak_mib": peaks[m]} for m in modes]

    cfg = SIZES[args.size]
    n_img = (args.res // 16) ** 2
    dev = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu x{torch.get_num_threads()} threads"
    print(f"# {args.size}: {cfg['num_layers']} double + {cfg['num_single_layers']} single blocks, "
          f"{cfg['num_attention_heads']} heads x {cfg['attention_head_dim']}; {n_img} image + "
          f"{args.text_len} text tokens, batch {args.batch}; {dev}, {args.dtype}; "
          f"median of {args.repeats}")
    v_mib = (cfg["num_single_layers"] * args.batch * (n_img + args.text_len) * cfg["num_attention_heads"]
             * cfg["attention_head_dim"] * torch.finfo(getattr(torch, args.dtype)).bits / 8 / 2**20)
    print(f"# V injection keeps {v_mib:.1f} MiB per injected model call (all single blocks)")
    base = next((r["ms"] for r in rows if r["mode"] == "default"), None)
    base_attn = next((r["attn_ms"] for r in rows if r["mode"] == "default"), None)
    print(f"| {'mode':<9}| {'ms/forward':>10} | {'vs default':>10} | {'ms/double attn':>14} "
          f"| {'vs default':>10} | {'peak MiB/forward':>16} |")
    print("|" + "|".join("-" * w for w in (10, 12, 12, 16, 12, 18)) + "|")
    for r in rows:
        ratio = f"{r['ms'] / base:.2f}x" if base else "-"
        ratio_a = f"{r['attn_ms'] / base_attn:.2f}x" if base_attn else "-"
        print(f"| {r['mode']:<9}| {r['ms']:>10.1f} | {ratio:>10} | {r['attn_ms']:>14.2f} | {ratio_a:>10} "
              f"| {r['peak_mib']:>16.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
