"""ODE solvers for rectified flow, in the style of k-diffusion's sampling.py.

One signature: solver(velocity_fn, x, timesteps, control=None, callback=None,
after_step=None) -> x.
`timesteps` run ascending for inversion (0 -> 1) and descending for sampling (1 -> 0);
step i goes from timesteps[i] to timesteps[i + 1], h = t_b - t_a.
velocity_fn(x, t, *, step, substep) returns dx/dt; substep is "start" (at t_a) or "mid"
(at the midpoint), so attention hooks can tell the calls apart. `control(x, v, step=i,
timesteps=ts)` returns the velocity used for the full-step update (LQR guidance);
`callback(info)` runs after every model call; `after_step(x, i, t_b)` after every
full step, returning the x the pass goes on from (a region's trajectory records or resets
it there: editing_core/region.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

VelocityFn = Callable[..., torch.Tensor]


def _times(timesteps) -> list[float]:
    if isinstance(timesteps, torch.Tensor):
        return [float(t) for t in timesteps.tolist()]
    return [float(t) for t in timesteps]


def _call(velocity_fn, x, t, step, substep, callback):
    v = velocity_fn(x, t, step=step, substep=substep)
    if callback is not None:
        callback({"x": x, "v": v, "t": t, "step": step, "substep": substep})
    return v


def _step(x, v, i: int, ts, control, after_step):
    """x <- x + h v, with v first passed through `control` and x then through `after_step`."""
    if control is not None:
        v = control(x, v, step=i, timesteps=ts)
    x = x + (ts[i + 1] - ts[i]) * v
    if after_step is not None:
        x = after_step(x, i, ts[i + 1])
    return x


def _midpoint(t_a: float, t_b: float) -> float:
    # Symmetric in (t_a, t_b): an inversion step and the matching sampling step get the
    # bit-identical midpoint, so features stored at one are found at the other.
    return 0.5 * (t_a + t_b)


@torch.no_grad()
def euler(velocity_fn: VelocityFn, x, timesteps: Sequence[float], control=None, callback=None,
          after_step=None):
    """x <- x + h v(x, t_a). One model call per step (vanilla ReFlow)."""
    ts = _times(timesteps)
    for i in range(len(ts) - 1):
        v = _call(velocity_fn, x, ts[i], i, "start", callback)
        x = _step(x, v, i, ts, control, after_step)
    return x


@torch.no_grad()
def rf_solver(velocity_fn: VelocityFn, x, timesteps: Sequence[float], control=None, callback=None,
              after_step=None):
    """RF-Solver's second-order step, i.e. the explicit midpoint rule. Two calls per step."""
    ts = _times(timesteps)
    for i in range(len(ts) - 1):
        h = ts[i + 1] - ts[i]
        v0 = _call(velocity_fn, x, ts[i], i, "start", callback)
        vm = _call(velocity_fn, x + 0.5 * h * v0, _midpoint(ts[i], ts[i + 1]), i, "mid", callback)
        x = _step(x, vm, i, ts, control, after_step)
    return x


@torch.no_grad()
def fireflow(velocity_fn: VelocityFn, x, timesteps: Sequence[float], control=None, callback=None,
             after_step=None):
    """Midpoint steps whose half step reuses the previous step's midpoint velocity.

    Only the first step evaluates v at its start: N + 1 calls for N steps, still
    second order (the reused velocity is O(h) off, which costs O(h^3) per step).
    """
    ts = _times(timesteps)
    v_prev = None
    for i in range(len(ts) - 1):
        h = ts[i + 1] - ts[i]
        if v_prev is None:
            v_prev = _call(velocity_fn, x, ts[i], i, "start", callback)
        vm = _call(velocity_fn, x + 0.5 * h * v_prev, _midpoint(ts[i], ts[i + 1]), i, "mid", callback)
        v_prev = vm
        x = _step(x, vm, i, ts, control, after_step)
    return x


SOLVERS: dict[str, Callable] = {"euler": euler, "rf_solver": rf_solver, "fireflow": fireflow}
MIDPOINT = frozenset({"rf_solver", "fireflow"})  # full-step update with the midpoint velocity


def solver_nfe(name: str, steps: int) -> int:
    """Model calls of one pass of `steps` steps."""
    return {"euler": steps, "rf_solver": 2 * steps, "fireflow": steps + 1}[name]
