"""`mtedit train-toy`: train the bundled toy model from scratch."""

from __future__ import annotations

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


def register(subparsers) -> None:
    from .train_config import Config

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
