"""The toy model trainer's settings, apart from the trainer: `mtedit train-toy` takes its
defaults from here without importing torch (every `mtedit` command builds that parser)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Config:
    work_dir: Path
    seed: int = 0
    threads: int = 2
    vae_steps: int = 600
    vae_batch: int = 32
    vae_lr: float = 1e-3
    vae_pool: int = 6000
    decoder_steps: int = 1150  # decoder-only fine-tuning after the transformer (same latents)
    text_steps: int = 600
    n_latents: int = 48000
    steps: int = 7500
    batch: int = 32
    lr: float = 5e-4
    ema: float = 0.995  # short run: a slower EMA lags the model (and the distillation teacher)
    distill_frac: float = 0.0  # guidance distillation: off (it cost this model its accuracy)
    empty_p: float = 0.1
    ckpt_every: int = 250
    eval_every: int = 1000
    progress: bool = True
