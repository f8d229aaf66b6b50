"""What one editing call works on and returns: anchors, the turn's inputs, the result,
and the progress / cancel channel the solvers report through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from editing_core.errors import EditCancelled

Progress = Callable[[int, int, str], None]
Cancel = Callable[[], bool]


@dataclass
class Anchors:
    """Clean latents the dual-objective control pulls toward.

    source: the lineage's root (the original upload or generation).
    previous: the node being edited; None means the edit's own input.
    """

    source: torch.Tensor
    previous: torch.Tensor | None = None


@dataclass
class EditResult:
    latent: torch.Tensor  # clean latent [1, C, h, w], float32, CPU
    image: Image.Image
    params: dict
    timings: dict = field(default_factory=dict)
    nfe: int = 0
    seed: int = 0


@dataclass
class PromptEmbeds:
    t5: torch.Tensor  # [1, T, D]
    pooled: torch.Tensor  # [1, D_clip]
    text_ids: torch.Tensor  # [T, 3]


@dataclass
class Turn:
    """What one editing turn works on (the clean latents are checked, CPU float32)."""

    x0: torch.Tensor  # the latent being edited
    source_prompt: str
    target_prompt: str
    source_anchor: torch.Tensor  # the lineage's root
    previous_anchor: torch.Tensor  # the edited node
    focus_words: tuple[str, ...]
    params: dict
    seed: int
    notes: dict = field(default_factory=dict)  # what the turn decided (focus fallback), recorded
    free: np.ndarray | None = None  # a region's free tokens [h/2, w/2]; None: every token


class ProgressChannel:
    """Progress and cancel of one call, through the solvers' callback (k-diffusion style).

    `callback(phase)` is what a solver gets: after each of its velocity evaluations it
    counts the model calls made (two with true CFG), reports (done, total, phase) and
    raises EditCancelled when `cancel()` says so.
    """

    def __init__(self, total: int, progress: Progress | None = None, cancel: Cancel | None = None):
        self.total, self.done = total, 0
        self.progress, self.cancel = progress, cancel

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise EditCancelled("the edit was cancelled")

    def callback(self, phase: str, calls: int = 1) -> Callable[[dict], None]:
        def on_call(info: dict) -> None:
            self.done += calls
            if self.progress is not None:
                self.progress(self.done, self.total, phase)
            self.check()

        return on_call
