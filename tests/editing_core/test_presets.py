"""Presets: the strength mapping moves only the knobs a preset uses."""

import pytest

from editing_core.presets import PRESETS, resolve_params, strength_overrides


def test_strength_moves_control_knobs_only_under_control():
    mtc = resolve_params("mtc")
    subtle, bold = strength_overrides(0.0, mtc), strength_overrides(1.0, mtc)
    assert strength_overrides(0.5, mtc) == {"eta": mtc["eta"], "stop": mtc["stop"],
                                            "inject": mtc["inject"]}
    assert subtle["eta"] == pytest.approx(min(1.0, mtc["eta"] + 0.08))
    assert bold["stop"] == pytest.approx(max(0.0, mtc["stop"] - 0.15))
    # fireflow injects but has no LQR control: eta and stop would change nothing, so
    # they are not returned; rf does neither, so strength leaves it alone.
    assert strength_overrides(0.0, resolve_params("fireflow")) == {"inject": 2}
    assert strength_overrides(0.0, resolve_params("rf")) == {}
    assert strength_overrides(1.0, resolve_params("rf")) == {}


def test_strength_never_injects_past_the_step_count():
    few = resolve_params("mtc", {"steps": 1, "inject": 1})
    assert strength_overrides(0.0, few)["inject"] == 1


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_strength_gives_valid_parameters(name):
    base = resolve_params(name)
    for strength in (0.0, 0.25, 0.5, 0.75, 1.0):
        resolve_params(name, strength_overrides(strength, base))  # raises if out of range
