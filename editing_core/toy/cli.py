"""`mtedit train-toy` and `mtedit bench toy` (called from editing_core/cli.py's register)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def cmd_train(args) -> int:
    from .train import Config, run

    work = Path(args.work_dir).expanduser() if args.work_dir else _default_work_dir()
    out = Path(args.out).expanduser() if args.out else work / "model"
    cfg = Config(work_dir=work, seed=args.seed, threads=args.threads, vae_steps=args.vae_steps,
                 decoder_steps=args.decoder_steps, steps=args.steps, batch=args.batch, progress=not args.quiet)  # fmt: skip
    print(f"training in {work} (rerun the same command to resume); log: {work / 'train.log'}",
          file=sys.stderr)  # fmt: skip
    folder = run(cfg, out)
    print(f"wrote {folder}; use it with MTEDIT_MODEL={folder}")
    return 0


def _default_work_dir() -> Path:
    from mtedit.settings import Settings

    return Path(Settings.from_env().data_dir) / "toy-train"


def cmd_bench(args) -> int:
    from editing_core.backend import FluxBackend
    from editing_core.errors import EditingError
    from editing_core.presets import PRESETS
    from mtedit.settings import BUNDLED_MODEL, Settings

    from . import bench

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = [p for p in presets if p not in PRESETS]
    if unknown or not presets:
        print(f"mtedit: unknown presets: {', '.join(unknown) or '(none)'}; "
              f"choose from {', '.join(PRESETS)}", file=sys.stderr)  # fmt: skip
        return 2
    overrides = {"steps": args.steps} if args.steps else None
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # one thread is fastest on a busy CPU

    def progress(done, total, stage):
        print(f"\r{stage:>12} {done}/{total}", end="" if done < total else "\n",
              file=sys.stderr, flush=True)  # fmt: skip

    try:
        settings = Settings.from_env()
        model = args.model or str(BUNDLED_MODEL)
        backend = FluxBackend.from_pretrained(model, device=args.device or settings.device,
                                              dtype=settings.dtype)
        figures = bench.run(backend, scenes=args.scenes, turns=args.turns, presets=presets,
                            seed=args.seed, t2i=args.t2i, overrides=overrides,
                            progress=None if args.quiet else progress)  # fmt: skip
    except (EditingError, ValueError, OSError) as exc:
        print(f"mtedit: {exc}", file=sys.stderr)
        return 1
    figures["model"] = model
    print(bench.format_table(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def register(subparsers, bench_subparsers) -> None:
    from .bench import DEFAULT_PRESETS
    from .train import Config

    p = bench_subparsers.add_parser(
        "toy", help="multi-turn edits and text-to-image on the toy world, scored by ground truth")
    p.add_argument("--scenes", type=int, default=8, help="held-out scenes (default 8)")
    p.add_argument("--turns", type=int, default=5, help="edits per scene (default 5)")
    p.add_argument("--presets", default=",".join(DEFAULT_PRESETS),
                   help="comma-separated preset names")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--t2i", type=int, default=32, help="text-to-image samples (0: skip)")
    p.add_argument("--steps", type=int, help="solver steps for every preset (default: each preset's)")
    p.add_argument("--model", help="model folder (default: the bundled toy model)")
    p.add_argument("--device", help="auto | cpu | cuda ... (default: MTEDIT_DEVICE)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--json", help="write the figures to this JSON file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=cmd_bench)

    p = subparsers.add_parser(
        "train-toy", help="train the small toy FLUX model from scratch (resumable, CPU)")
    p.add_argument("--work-dir", help="checkpoints and log (default: <data dir>/toy-train)")
    p.add_argument("--out", help="model folder to write (default: <work dir>/model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vae-steps", type=int, default=Config.vae_steps)
    p.add_argument("--steps", type=int, default=Config.steps, help="transformer steps")
    p.add_argument("--decoder-steps", type=int, default=Config.decoder_steps,
                   help="decoder-only fine-tuning steps after the transformer")
    p.add_argument("--batch", type=int, default=Config.batch, help="transformer batch")
    p.add_argument("--threads", type=int, default=Config.threads,
                   help=f"torch CPU threads (default {Config.threads}; 1 on a busy machine)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)
