"""LQR control: eta = 1 lands on the target, the dual target is the lambda-weighted mean,
eta = 0 is the uncontrolled solver, stop and gamma act where METHOD.md says."""

import pytest
import torch

from editing_core.control import DualControl, TargetControl, dual_target, inversion_control
from editing_core.schedule import sampling_timesteps
from editing_core.solvers import SOLVERS


def field(x, t, *, step=None, substep=None):  # any smooth, non-trivial velocity
    return torch.sin(3 * x) + t * x - 0.7


X1 = torch.tensor([[0.4, -1.3, 2.2, 0.05]], dtype=torch.float64)
Y = torch.tensor([[1.0, 2.0, -3.0, 0.5]], dtype=torch.float64)


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_eta_one_on_every_step_lands_on_the_target(name):
    uniform = torch.linspace(1, 0, 9, dtype=torch.float64)
    out = SOLVERS[name](field, X1, uniform, control=TargetControl(Y, eta=1.0, stop=1.0))
    torch.testing.assert_close(out, Y, rtol=0, atol=1e-12)
    # On a shifted grid the time clock lands exactly too.
    shifted = sampling_timesteps(7, 4096)
    out = SOLVERS[name](field, X1, shifted, control=TargetControl(Y, eta=1.0, stop=1.0, clock="time"))
    torch.testing.assert_close(out, Y, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_eta_zero_equals_the_uncontrolled_solver(name):
    grid = sampling_timesteps(8, 1024)
    plain = SOLVERS[name](field, X1, grid)
    for control in (TargetControl(Y, eta=0.0, stop=1.0), TargetControl(Y, eta=0.9, stop=0.0)):
        assert torch.equal(SOLVERS[name](field, X1, grid, control=control), plain)


def test_dual_target_is_the_lambda_weighted_mean():
    src, prev = torch.randn(1, 4, 6, 6), torch.randn(1, 4, 6, 6)
    torch.testing.assert_close(dual_target(src, prev, 0.7), 0.3 * src + 0.7 * prev)
    assert torch.equal(dual_target(src, None, 0.7), src)  # turn 1: X_src
    assert torch.equal(dual_target(src, prev, 1.0), prev)  # single-target RF-Inversion
    control = DualControl(src.double(), prev.double(), lam=0.7, eta=1.0, stop=1.0)
    out = SOLVERS["fireflow"](lambda x, t, **k: torch.cos(x), torch.zeros(1, 4, 6, 6, dtype=torch.float64),
                              torch.linspace(1, 0, 5, dtype=torch.float64), control=control)
    torch.testing.assert_close(out, (0.3 * src + 0.7 * prev).double())


def test_stop_fraction_controls_the_first_floor_stop_n_steps_only():
    control = TargetControl(Y, eta=0.9, stop=0.25)
    assert [control.strength(i, 8) for i in range(8)] == [0.9, 0.9] + [0.0] * 6
    assert [control.strength(i, 10) for i in range(3)] == [0.9, 0.9, 0.0]  # floor(2.5) = 2
    grid = torch.linspace(1, 0, 9, dtype=torch.float64)
    v = field(X1, 1.0)
    # Step 0 on the index clock: v_c = v + eta (-(y - x) / (1 - 0) - v).
    torch.testing.assert_close(control(X1, v, step=0, timesteps=grid), v + 0.9 * (-(Y - X1) - v))
    assert torch.equal(control(X1, v, step=2, timesteps=grid), v)


def test_inversion_control_pulls_toward_a_seeded_gaussian():
    a = inversion_control((1, 16, 8), seed=3, gamma=0.5, dtype=torch.float64)
    b = inversion_control((1, 16, 8), seed=3, gamma=0.5, dtype=torch.float64)
    c = inversion_control((1, 16, 8), seed=4, gamma=0.5, dtype=torch.float64)
    assert torch.equal(a.target, b.target) and not torch.equal(a.target, c.target)
    assert abs(float(a.target.std()) - 1) < 0.2
    # gamma = 1: inversion (0 -> 1) ends exactly on y1; gamma = 0.5 ends between.
    x0 = torch.full((1, 16, 8), 0.3, dtype=torch.float64)
    grid = sampling_timesteps(8, 1024).flip(0)
    full = inversion_control((1, 16, 8), seed=3, gamma=1.0, dtype=torch.float64)
    torch.testing.assert_close(SOLVERS["euler"](field, x0, grid, control=full), full.target)
    plain = SOLVERS["euler"](field, x0, grid)
    half = SOLVERS["euler"](field, x0, grid, control=a)
    assert (half - a.target).norm() < (plain - a.target).norm()
