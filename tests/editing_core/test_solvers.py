"""Solvers on a velocity field with a closed-form flow.

Data x0 ~ N(m, s^2) per coordinate and x_t = (1 - t) x0 + t e give Gaussian marginals
N((1 - t) m, sigma_t^2), sigma_t^2 = (1 - t)^2 s^2 + t^2, and the exact rectified-flow
velocity E[e - x0 | x_t = x] = -m + (t - (1 - t) s^2) / sigma_t^2 (x - (1 - t) m).
The flow keeps z = (x - (1 - t) m) / sigma_t fixed, so x_b = (1 - t_b) m + sigma_b z.
"""

import itertools
import math

import pytest
import torch

from editing_core.schedule import sampling_timesteps, shift_mu
from editing_core.solvers import SOLVERS, euler, fireflow, rf_solver, solver_nfe

M = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
S = 0.5


def sigma(t):
    return math.sqrt((1 - t) ** 2 * S**2 + t**2)


def velocity(x, t, *, step=None, substep=None):
    return -M + (t - (1 - t) * S**2) / sigma(t) ** 2 * (x - (1 - t) * M)


def exact(x, t_a, t_b):
    return (1 - t_b) * M + sigma(t_b) / sigma(t_a) * (x - (1 - t_a) * M)


def sample_error(solver, n):
    x1 = torch.tensor([0.3, -1.2, 0.8], dtype=torch.float64)
    ts = torch.linspace(1, 0, n + 1, dtype=torch.float64)
    return float((solver(velocity, x1, ts) - exact(x1, 1.0, 0.0)).abs().max())


@pytest.mark.parametrize("solver,order", [(euler, 1), (rf_solver, 2), (fireflow, 2)])
def test_global_error_shrinks_with_the_solver_order(solver, order):
    errors = [sample_error(solver, n) for n in (16, 32, 64, 128)]
    rates = [math.log2(a / b) for a, b in itertools.pairwise(errors)]
    if solver is rf_solver:
        # The explicit midpoint rule is even third order on this particular (affine) field.
        assert min(rates) > order - 0.2, (errors, rates)
    else:
        assert abs(rates[-1] - order) < 0.15, (errors, rates)
        assert all(r > order - 0.4 for r in rates), (errors, rates)


def test_second_order_solvers_beat_euler_at_equal_steps():
    assert sample_error(fireflow, 16) < sample_error(euler, 16) / 10
    assert sample_error(rf_solver, 16) < sample_error(euler, 16) / 10


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_invert_then_sample_returns_the_input_closer_with_more_steps(name):
    solver = SOLVERS[name]
    x0 = torch.tensor([1.4, -0.9, 1.7], dtype=torch.float64)
    errors = []
    for n in (4, 8, 16, 32):
        grid = sampling_timesteps(n, 1024)  # FLUX.1-dev's shifted grid
        noise = solver(velocity, x0, grid.flip(0))
        assert float((noise - exact(x0, 0.0, 1.0)).abs().max()) < 0.5
        errors.append(float((solver(velocity, noise, grid) - x0).abs().max()))
    assert all(b < a for a, b in itertools.pairwise(errors)), errors
    assert errors[-1] < (0.1 if name == "euler" else 2e-3), errors


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_model_calls_and_substeps(name):
    calls = []

    def spy(x, t, *, step, substep):
        calls.append((step, substep, t))
        return velocity(x, t)

    seen = []
    grid = sampling_timesteps(6, 256)
    SOLVERS[name](spy, torch.zeros(3, dtype=torch.float64), grid, callback=seen.append)
    assert len(calls) == solver_nfe(name, 6) == len(seen)
    assert [c["step"] for c in seen] == [c[0] for c in calls]
    if name == "fireflow":
        assert calls[0][:2] == (0, "start") and all(c[1] == "mid" for c in calls[1:])
    mids = [t for _, s, t in calls if s == "mid"]
    # The midpoint of sampling step i is bit-identical to inversion's over the same interval.
    inv = []
    SOLVERS[name](lambda x, t, *, step, substep: inv.append((substep, t)) or velocity(x, t),
                  torch.zeros(3, dtype=torch.float64), grid.flip(0))
    assert sorted(mids) == sorted(t for s, t in inv if s == "mid")


def test_schedule_shift_matches_flux_dev():
    assert shift_mu(256) == pytest.approx(0.5) and shift_mu(4096) == pytest.approx(1.15)
    t = sampling_timesteps(4, 4096)
    e = math.exp(1.15)
    assert float(t[2]) == pytest.approx(e / (e + 1.0))  # t = 0.5 -> e^mu / (e^mu + 1)
    assert float(t[0]) == 1.0 and float(t[-1]) == 0.0
    assert torch.equal(sampling_timesteps(4, 4096, {"use_dynamic_shifting": False, "shift": 1.0}),
                       torch.linspace(1, 0, 5, dtype=torch.float64))
