"""What every stage of the toy model's trainer shares (its settings are train_config.py):
its log, the learning-rate schedule, resuming from a checkpoint, and images and captions
as tensors."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from editing_core.metrics import tensor_psnr

from . import components as C


def to_tensor(images) -> torch.Tensor:
    """PIL images -> float tensor [N, 3, H, W] in [-1, 1]."""
    a = np.stack([np.asarray(im, dtype=np.uint8) for im in images])
    return torch.from_numpy(a).permute(0, 3, 1, 2).float() / 127.5 - 1


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of images in [-1, 1]."""
    return tensor_psnr(a, b, value_range=(-1.0, 1.0))


def cosine_lr(step: int, total: int, base: float, warmup: int = 100, floor: float = 0.1) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    frac = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * frac)))


class Log:
    def __init__(self, path: Path, quiet: bool = False):
        self.path, self.quiet = path, quiet

    def __call__(self, msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        with self.path.open("a") as f:
            f.write(line + "\n")
        if not self.quiet:
            tqdm.write(line)


def resume(path: Path, parts: dict, log: Log | None = None, what: str = "") -> int:
    """Load a stage's checkpoint ({name: state dict, "step": n}) into `parts` (name ->
    module or optimizer); the step it was saved at, 0 without a checkpoint."""
    if not path.exists():
        return 0
    state = torch.load(path, weights_only=False)
    for name, part in parts.items():
        part.load_state_dict(state[name])
    if log is not None:
        log(f"{what}: resumed at step {state['step']}")
    return state["step"]

def tokenize(tok, texts: list[str]) -> torch.Tensor:
    return tok(texts, padding="max_length", max_length=C.MAX_TOKENS, truncation=True,
               return_tensors="pt").input_ids  # fmt: skip
