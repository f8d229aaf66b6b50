"""LQR control (RF-Inversion, Rout et al. 2024) and the dual objective of multi-turn editing.

A control is an object the solvers call at each full-step update:
`control(x, v, step=i, timesteps=ts) -> v_c`. It pulls the velocity toward the field
that reaches a target y exactly at the end of the pass:

    v_y = (y - x) / r_i * sign(t_end - t_i),   v_c = v + eta_i (v_y - v)

where r_i, the remaining fraction of the pass, is 1 - i/N on the index clock (what
the authors' code uses for sampling, "empirically better") or |t_end - t_i| on the
time clock (RF-Inversion's inversion toward a Gaussian). eta_i = eta for
i < floor(stop * N) and 0 after. With eta = 1 on every step the pass ends on y.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass
class TargetControl:
    """Single-target LQR guidance toward `target` (RF-Inversion)."""

    target: torch.Tensor
    eta: float = 0.9
    stop: float = 1.0
    clock: str = "index"  # "index": r = 1 - i/N; "time": r = |t_end - t_i|
    half_step: bool = False  # time clock only: r + |h|/2, for midpoint (FireFlow) updates

    def __post_init__(self):
        if self.clock not in ("index", "time"):
            raise ValueError(f"clock must be 'index' or 'time', not {self.clock!r}")

    def strength(self, step: int, num_steps: int) -> float:
        return self.eta if step < math.floor(self.stop * num_steps + 1e-9) else 0.0

    def __call__(self, x: torch.Tensor, v: torch.Tensor, *, step: int, timesteps) -> torch.Tensor:
        n = len(timesteps) - 1
        eta = self.strength(step, n)
        if eta == 0.0:
            return v
        t_a, t_end = float(timesteps[step]), float(timesteps[-1])
        if self.clock == "index":
            remaining = 1.0 - step / n
        else:
            remaining = abs(t_end - t_a)
            if self.half_step:  # the authors' FireFlow inversion: (1 - t_a) + h/2
                remaining += 0.5 * abs(float(timesteps[step + 1]) - t_a)
        direction = 1.0 if t_end > t_a else -1.0
        y = self.target.to(device=x.device, dtype=x.dtype)
        v_y = direction * (y - x) / remaining
        return v + eta * (v_y - v)


def dual_target(source: torch.Tensor, previous: torch.Tensor | None, lam: float) -> torch.Tensor:
    """The minimiser of the two-target objective: y = X_src + lam (X_prev - X_src).

    Equivalent to single-target LQR toward this weighted mean (Proposition 1 of the
    multi-turn paper). lam = 1 targets the previous turn only; no previous -> X_src.
    """
    if previous is None:
        return source
    return (1.0 - lam) * source + lam * previous


def DualControl(source, previous, *, lam: float = 0.7, eta: float = 0.9, stop: float = 0.25,
                clock: str = "index") -> TargetControl:
    """Dual-objective control: anchored to the lineage's source and the previous turn."""
    return TargetControl(dual_target(source, previous, lam), eta=eta, stop=stop, clock=clock)


def inversion_control(shape, *, seed: int, gamma: float = 0.5, half_step: bool = False,
                      device=None, dtype=torch.float32) -> TargetControl:
    """Inversion guidance toward a fixed Gaussian sample y1 (drawn on the CPU for the seed).

    The field is (y1 - x) / (1 - t_a); with half_step, for solvers whose update uses the
    midpoint velocity (FireFlow, RF-Solver), (y1 - x) / ((1 - t_a) + h/2), as the
    authors' FireFlow code. (On the bundled model the two measured no different.)
    """
    g = torch.Generator("cpu").manual_seed(int(seed))
    y1 = torch.randn(shape, generator=g, dtype=torch.float32).to(device=device, dtype=dtype)
    return TargetControl(y1, eta=gamma, stop=1.0, clock="time", half_step=half_step)
