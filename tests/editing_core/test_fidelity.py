"""The points where the method follows the authors' code (METHOD.md), and equal budgets."""

import logging

import pytest
import torch

from editing_core import control as ctl
from editing_core.focus import fallback_focus, first_noun
from editing_core.presets import PRESETS, edit_nfe, nfe_overrides, resolve_params, steps_for_nfe

Z = torch.zeros(1, 4, 4, 4)


# -- inversion control: (y1 - x) / ((1 - t_a) + h/2) under FireFlow's half step ----------


def test_half_step_inversion_field_uses_the_authors_denominator():
    y = torch.full((3,), 2.0)
    x, v = torch.zeros(3), torch.zeros(3)
    ts = [0.0, 0.25, 0.5, 1.0]
    plain = ctl.TargetControl(y, eta=1.0, clock="time")
    half = ctl.TargetControl(y, eta=1.0, clock="time", half_step=True)
    # step 1: t_a = 0.25, h = 0.25 -> 2 / 0.75 without, 2 / (0.75 + 0.125) with
    assert plain(x, v, step=1, timesteps=ts)[0].item() == pytest.approx(2 / 0.75)
    assert half(x, v, step=1, timesteps=ts)[0].item() == pytest.approx(2 / 0.875)


def test_midpoint_presets_invert_with_the_half_step_field(tiny_backend, monkeypatch):
    seen = []
    real = ctl.inversion_control

    def spy(*a, **k):
        seen.append(k["half_step"])
        return real(*a, **k)

    monkeypatch.setattr(ctl, "inversion_control", spy)
    tiny_backend.edit(Z, "a cat", "a dog", preset="mtc", overrides={"steps": 2})
    tiny_backend.edit(Z, "a cat", "a dog", preset="rf_inversion", overrides={"steps": 2})
    assert seen == [True, False]  # FireFlow: half step; Euler: the plain (1 - t_a)


# -- the authors' RF-Inversion baseline --------------------------------------------------


def test_rf_inversion_is_the_authors_baseline():
    p = resolve_params("rf_inversion")
    assert (p["solver"], p["steps"], p["control"], p["clock"]) == ("euler", 28, "dual", "index")
    assert p["stop"] == 0.35 and p["lam"] == 0.7 and p["eta"] == 0.9
    src, prev = torch.zeros(2), torch.ones(2)
    assert torch.allclose(ctl.dual_target(src, prev, p["lam"]), torch.full((2,), 0.7))
    assert ctl.dual_target(src, None, p["lam"]) is src  # turn 1: the source alone


def test_rf_inversion_pulls_toward_the_previous_image_when_there_is_one(tiny_backend):
    from editing_core import Anchors

    src, prev = torch.zeros(1, 4, 4, 4), torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(1))
    steps = {"steps": 4}
    with_prev = tiny_backend.edit(prev, "a cat", "a dog", preset="rf_inversion", overrides=steps,
                                  anchors=Anchors(source=src, previous=prev))
    source_only = tiny_backend.edit(prev, "a cat", "a dog", preset="rf_inversion",
                                    overrides={**steps, "lam": 0.0},
                                    anchors=Anchors(source=src, previous=prev))
    assert not torch.equal(with_prev.latent, source_only.latent)


# -- highlighting falls back instead of switching itself off -----------------------------


def test_first_noun_is_the_head_of_the_first_noun_phrase():
    assert first_noun("a small red circle on the left, on a green background") == "circle"
    assert first_noun("The old red car standing near a tree") == "car"
    assert first_noun("a cat sitting on a sofa") == "cat"
    assert first_noun("on the left") is None
    assert first_noun("") is None


def test_fallback_positions(tiny_backend):
    tok = tiny_backend.tokenizer_2
    pos, how = fallback_focus(tok, "a red cat on a table", 64)
    assert how == "first noun 'cat'" and pos == [2]  # "a red cat": cat is the third token
    pos, how = fallback_focus(tok, "a red cat on a table", 64, how="position", position=4)
    assert (pos, how) == ([4], "T5 position 4")
    pos, how = fallback_focus(tok, "on the left", 64)
    assert (pos, how) == ([2], "T5 position 2")  # no noun: the authors' position
    assert fallback_focus(tok, "cat", 64, how="position")[0] == [1]  # clamped to the prompt
    assert fallback_focus(tok, "a cat", 64, how="none") == ([], "none")


def test_an_edit_without_a_matching_focus_word_still_highlights_and_says_so(tiny_backend, caplog):
    opts = {"steps": 5, "inject": 0, "highlight_from_step": 1, "highlight": True}
    with caplog.at_level(logging.INFO, logger="editing_core.backend"):
        r = tiny_backend.edit(Z, "a cat", "a red dog on a table", focus_words=["zebra"],
                              overrides=opts)
    assert r.params["focus_fallback"] == "first noun 'dog'" and r.params["focus_positions"] == [2]
    assert any("no focus word ['zebra']" in m and "first noun 'dog'" in m for m in caplog.messages)
    off = tiny_backend.edit(Z, "a cat", "a red dog on a table", focus_words=["zebra"],
                            overrides={**opts, "highlight_fallback": "none"})
    assert off.params["focus_positions"] == [] and off.params["focus_fallback"] == "none"
    assert not torch.equal(r.latent, off.latent)  # the fallback really re-weighted attention
    found = tiny_backend.edit(Z, "a cat", "a red dog on a table", focus_words=["table"],
                              overrides=opts)
    assert "focus_fallback" not in found.params and found.params["focus_positions"] == [5]
    plain = tiny_backend.edit(Z, "a cat", "a red dog", overrides={**opts, "highlight": False})
    assert "focus_positions" not in plain.params


# -- equal budgets: steps for an NFE per turn, counted on the model ---------------------


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("nfe", [6, 18])
def test_steps_for_nfe_counts_real_model_calls(tiny_backend, monkeypatch, name, nfe):
    calls = []
    real = tiny_backend._forward
    monkeypatch.setattr(tiny_backend, "_forward", lambda *a, **k: calls.append(1) or real(*a, **k))
    overrides = nfe_overrides(name, nfe)
    r = tiny_backend.edit(Z, "a cat", "a dog", preset=name, overrides=overrides)
    steps = overrides["steps"]
    assert len(calls) == r.nfe == edit_nfe(resolve_params(name, overrides))

    def cost(s):
        return edit_nfe(resolve_params(name, {**overrides, "steps": s, "inject": 0}))

    assert all(abs(len(calls) - nfe) <= abs(cost(s) - nfe) for s in range(1, 40))
    assert steps == steps_for_nfe(name, nfe)


def test_steps_for_nfe_per_solver():
    assert steps_for_nfe("mtc", 18) == 8 and steps_for_nfe("fireflow", 18) == 8  # 2 (N + 1)
    assert steps_for_nfe("rf", 18) == 9 and steps_for_nfe("rf_inversion", 18) == 9  # 2N
    assert steps_for_nfe("rf_solver", 18) == 4  # 4N: 16 and 20 equally near, the cheaper
    assert steps_for_nfe("rf_solver", 19) == 5
    assert steps_for_nfe("mtc", 1) == 1
    assert nfe_overrides("rf_solver", 4) == {"steps": 1, "inject": 1}
    with pytest.raises(ValueError, match="at least 1"):
        steps_for_nfe("mtc", 0)
