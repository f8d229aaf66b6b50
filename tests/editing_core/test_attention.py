"""Attention hooks on a tiny FluxTransformer2DModel: equality with diffusers' default,
V injection, adaptive highlighting (explicit reference and fused), restoration."""

import pytest
import torch
from diffusers import FluxTransformer2DModel
from diffusers.models.transformers.transformer_flux import FluxAttnProcessor

from editing_core.attention import AttentionHooks
from editing_core.highlight import (
    attend_explicit,
    attend_fused,
    heat_map,
    mask_from_maps,
    reweighted_probs,
    row_multipliers,
    select_ranks,
)

TEXT_LEN, GRID_H, GRID_W = 12, 6, 6
N_STEPS = 4
GRID = torch.linspace(1, 0, N_STEPS + 1)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run faster on one thread, and the CPU is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def transformer():
    torch.manual_seed(0)
    model = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=2, num_single_layers=2, attention_head_dim=32,
        num_attention_heads=4, joint_attention_dim=64, pooled_projection_dim=64,
        axes_dims_rope=(8, 12, 12), guidance_embeds=True,
    ).eval()
    # Random init leaves some projections tiny; widen them so attention is not uniform.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "attn" in name and name.endswith("weight") and p.ndim == 2:
                p.normal_(0, 0.3)
    return model


def make_inputs(seed, batch=1):
    g = torch.Generator().manual_seed(seed)
    img_ids = torch.zeros(GRID_H, GRID_W, 3)
    img_ids[..., 1] = torch.arange(GRID_H)[:, None]
    img_ids[..., 2] = torch.arange(GRID_W)[None]
    return {
        "hidden_states": torch.randn(batch, GRID_H * GRID_W, 16, generator=g),
        "encoder_hidden_states": torch.randn(batch, TEXT_LEN, 64, generator=g),
        "pooled_projections": torch.randn(batch, 64, generator=g),
        "img_ids": img_ids.reshape(-1, 3),
        "txt_ids": torch.zeros(TEXT_LEN, 3),
        "guidance": torch.full((batch,), 3.5),
    }


def forward(model, inputs, t):
    batch = inputs["hidden_states"].shape[0]
    with torch.no_grad():
        return model(**inputs, timestep=torch.full((batch,), float(t)), return_dict=False)[0]


def mid(k):
    return float((GRID[k] + GRID[k + 1]) / 2)


def rf_solver_calls(phase):
    """(step, t, substep) of an RF-Solver pass over GRID: two calls per interval."""
    if phase == "sample":
        return [c for k in range(N_STEPS) for c in ((k, float(GRID[k]), "start"), (k, mid(k), "mid"))]
    return [c for j, k in enumerate(reversed(range(N_STEPS)))
            for c in ((j, float(GRID[k + 1]), "start"), (j, mid(k), "mid"))]


def assert_default_processors(model):
    assert all(type(p) is FluxAttnProcessor for p in model.attn_processors.values())


# -- equality with diffusers' default -------------------------------------------------------
def test_hooks_off_equal_default_processor(transformer):
    inputs = make_inputs(1, batch=2)
    expected = forward(transformer, inputs, 0.7)
    for kw in ({}, {"highlight": True}, {"highlight": True, "focus_positions": [3], "inject_steps": 2}):
        with AttentionHooks(transformer, GRID, text_len=TEXT_LEN, **kw) as hooks:
            hooks.set_call("invert", 0, 0.0, "start")  # highlighting acts only while sampling
            got_invert = forward(transformer, inputs, 0.7)
            if not kw.get("inject_steps"):
                hooks.set_call("sample", 0, 1.0, "start")
                got_sample = forward(transformer, inputs, 0.7)
                torch.testing.assert_close(got_sample, expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(got_invert, expected, rtol=1e-5, atol=1e-6)


def test_hooks_equal_default_with_fused_qkv_projections():
    torch.manual_seed(3)
    model = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=32,
        num_attention_heads=2, joint_attention_dim=64, pooled_projection_dim=64, axes_dims_rope=(8, 12, 12),
        guidance_embeds=True,
    ).eval()
    model.fuse_qkv_projections()
    inputs = make_inputs(2)
    expected = forward(model, inputs, 0.4)
    with AttentionHooks(model, GRID, text_len=TEXT_LEN) as hooks:
        hooks.set_call("sample", 0, 1.0, "start")
        got = forward(model, inputs, 0.4)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


# -- V injection -----------------------------------------------------------------------------
def test_injected_v_is_the_stored_v_and_only_inside_the_window(transformer):
    src, tgt = make_inputs(10), make_inputs(11)
    inject = 2
    stored, used = {}, {}

    def probe(name, phase, key, v, action):
        if action == "store":
            stored[(key, name)] = v.clone()
        elif phase == "sample":
            used[(key, name)] = (action, v.clone())

    with AttentionHooks(transformer, GRID, inject_steps=inject, text_len=TEXT_LEN) as hooks:
        hooks.on_value = probe
        for step, t, sub in rf_solver_calls("invert"):
            hooks.set_call("invert", step, t, sub)
            forward(transformer, src, t)
        # inversion stores exactly the calls of the first `inject` intervals, per single block
        assert {key for key, _ in stored} == {(k, s) for k in range(inject) for s in ("start", "mid")}
        assert hooks.stored_bytes > 0
        outputs = {}
        for step, t, sub in rf_solver_calls("sample"):
            hooks.set_call("sample", step, t, sub)
            outputs[(step, sub)] = forward(transformer, tgt, t)
    assert hooks.stored_bytes == 0, "stored values are freed when the edit ends"

    for (key, name), (action, v) in used.items():
        if key[0] < inject:
            assert action == "inject"
            assert torch.equal(v, stored[(key, name)])
        else:
            assert action == "plain"
    for (step, sub), out in outputs.items():
        t = float(GRID[step]) if sub == "start" else mid(step)
        plain = forward(transformer, tgt, t)
        if step < inject:
            assert (out - plain).abs().max() > 1e-3, "injection must change the output"
        else:
            torch.testing.assert_close(out, plain, rtol=1e-5, atol=1e-6)


def test_fireflow_pairs_midpoints_and_skips_the_first_start_call(transformer):
    """FireFlow: inversion calls start at t=0 then mids; sampling start at t=1 then mids."""
    src, tgt = make_inputs(20), make_inputs(21)
    with AttentionHooks(transformer, GRID, inject_steps=1, text_len=TEXT_LEN) as hooks:
        hooks.set_call("invert", 0, 0.0, "start")
        forward(transformer, src, 0.0)
        for j, k in enumerate(reversed(range(N_STEPS))):
            hooks.set_call("invert", j, mid(k), "mid")
            forward(transformer, src, mid(k))
        assert hooks.counts["stored"] == 2  # interval 0's mid call, two single blocks
        hooks.set_call("sample", 0, 1.0, "start")
        forward(transformer, tgt, 1.0)
        assert hooks.counts["injected"] == 0
        hooks.set_call("sample", 0, mid(0), "mid")
        forward(transformer, tgt, mid(0))
        assert hooks.counts["injected"] == 2


@pytest.mark.parametrize("solver, per_block", [("euler", 1), ("rf_solver", 2), ("fireflow", 1)])
def test_solvers_pair_inversion_and_sampling_calls(transformer, solver, per_block):
    """With the product's solvers and inject = 1: Euler pairs its start calls, RF-Solver
    start and mid calls, FireFlow only its mid calls; every injected V is the stored one."""
    from editing_core.solvers import SOLVERS

    src, tgt = make_inputs(70), make_inputs(71)
    stored, injected = {}, []
    with AttentionHooks(transformer, GRID, inject_steps=1, text_len=TEXT_LEN) as hooks:
        def probe(name, phase, key, v, action):
            if action == "store":
                stored[(name, key)] = v.clone()
            elif action == "inject":
                injected.append((name, key, v.clone()))

        hooks.on_value = probe

        def velocity(phase, inputs):
            def call(x, t, *, step, substep):
                hooks.set_call(phase=phase, step=step, t=t, substep=substep)
                return forward(transformer, {**inputs, "hidden_states": x}, t)
            return call

        noise = SOLVERS[solver](velocity("invert", src), src["hidden_states"], GRID.flip(0))
        SOLVERS[solver](velocity("sample", tgt), noise, GRID)
    n_single = len(transformer.single_transformer_blocks)
    assert len(stored) == len(injected) == per_block * n_single
    for name, key, v in injected:
        assert key[0] == 0
        assert torch.equal(v, stored[(name, key)])


def test_euler_start_call_takes_the_inversion_call_of_the_same_interval(transformer):
    hooks = AttentionHooks(transformer, GRID, inject_steps=1, text_len=TEXT_LEN)
    # Euler: sampling step k evaluates at t_k, inversion over the same interval at t_{k+1}
    for k in range(N_STEPS):
        assert hooks.interval_of("sample", float(GRID[k]), "start") == k
        assert hooks.interval_of("invert", float(GRID[k + 1]), "start") == k
        assert hooks.interval_of("invert", mid(k), "mid") == hooks.interval_of("sample", mid(k), "mid") == k
    assert hooks.interval_of("sample", 0.0, "start") is None
    assert hooks.interval_of("sample", 0.6, "start") is None


def test_inject_image_only_keeps_the_target_text_values(transformer):
    src, tgt = make_inputs(30), make_inputs(31)
    seen = {}
    with AttentionHooks(transformer, GRID, inject_steps=1, text_len=TEXT_LEN,
                        params={"inject_text": False, "inject_store": "cpu"}) as hooks:
        hooks.on_value = lambda name, phase, key, v, action: seen.setdefault((phase, name), v.clone())
        hooks.set_call("invert", 3, mid(0), "mid")
        forward(transformer, src, mid(0))
        hooks.set_call("sample", 0, mid(0), "mid")
        forward(transformer, tgt, mid(0))
    name = "single_transformer_blocks.0"
    inv, smp = seen[("invert", name)], seen[("sample", name)]
    assert torch.equal(smp[:, TEXT_LEN:], inv[:, TEXT_LEN:])
    assert not torch.allclose(smp[:, :TEXT_LEN], inv[:, :TEXT_LEN])


# -- highlighting: the math --------------------------------------------------------------------
def _qkv(seed, batch=2, heads=3, n_text=6, n_img=10, dim=8):
    g = torch.Generator().manual_seed(seed)
    shape = (batch, heads, n_text + n_img, dim)
    return [torch.randn(shape, generator=g) * 2 for _ in range(3)]


def test_reweighting_changes_only_image_to_first_k_text_weights_by_the_factors():
    q, k, v = _qkv(0)
    n_text, top_k = 6, 4
    mask = torch.rand(2, 10, generator=torch.Generator().manual_seed(1)) > 0.5
    mult = row_multipliers(mask, 2.0, 0.8)
    plain = reweighted_probs(q, k, n_text, top_k, None)
    new = reweighted_probs(q, k, n_text, top_k, mult)

    torch.testing.assert_close(new[:, :, :n_text], plain[:, :, :n_text])  # text queries
    torch.testing.assert_close(new[:, :, n_text:, top_k:], plain[:, :, n_text:, top_k:])  # other keys
    ratio = new[:, :, n_text:, :top_k] / plain[:, :, n_text:, :top_k]
    expected = torch.where(mask, 2.0, 0.8)[:, None, :, None].expand_as(ratio)
    torch.testing.assert_close(ratio, expected)
    # no renormalisation: image rows sum to 1 + (m - 1) * (their weight on the first K keys)
    sums = new[:, :, n_text:].sum(-1)
    torch.testing.assert_close(sums, 1 + (expected[..., 0] - 1) * plain[:, :, n_text:, :top_k].sum(-1))
    assert (sums - 1).abs().max() > 1e-3

    out, _ = attend_explicit(q, k, v, text_len=n_text, focus=[], top_k=top_k, mult=mult)
    torch.testing.assert_close(out, new @ v)


@pytest.mark.parametrize("use_mask", [False, True])
@pytest.mark.parametrize("focus", [[], [2], [0, 5]])
@pytest.mark.parametrize("top_k", [4, 15])
def test_fused_equals_explicit(use_mask, focus, top_k):
    q, k, v = _qkv(5)
    mult = row_multipliers(torch.arange(10).repeat(2, 1) % 3 == 0) if use_mask else None
    out_e, heat_e = attend_explicit(q, k, v, text_len=6, focus=focus, top_k=top_k, mult=mult)
    out_f, heat_f = attend_fused(q, k, v, text_len=6, focus=focus, top_k=top_k, mult=mult)
    torch.testing.assert_close(out_f, out_e, rtol=1e-5, atol=1e-5)
    if focus:
        torch.testing.assert_close(heat_f, heat_e, rtol=1e-5, atol=1e-6)
        probs = reweighted_probs(q, k, 6, top_k, None)
        torch.testing.assert_close(heat_e, probs[:, :, 6:, focus].mean(dim=(1, 3)))
    else:
        assert heat_e is None and heat_f is None


def test_fused_runs_on_the_flash_kernel():
    """The fused call must not fall back to the math kernel (which builds L x L)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q, k, v = _qkv(6, dim=32)
    mult = row_multipliers(torch.arange(10).repeat(2, 1) % 2 == 0)
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
        out, heat = attend_fused(q, k, v, text_len=6, focus=[1, 5], top_k=15, mult=mult)
    ref, ref_heat = attend_explicit(q, k, v, text_len=6, focus=[1, 5], top_k=15, mult=mult)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(heat, ref_heat, rtol=1e-5, atol=1e-6)


def test_heat_map_and_rank_window():
    m = heat_map(torch.tensor([[0.0, 0.5, 1.0], [2.0, 4.0, 3.0]]))
    torch.testing.assert_close(m[0], torch.sigmoid(torch.tensor([-5.0, 0.0, 5.0])))
    assert m[1].argmax() == 1 and m[1].argmin() == 0
    assert select_ranks(19, 11, 4) == (11, 4)
    assert select_ranks(13, 11, 4) == (9, 4)
    assert select_ranks(2, 11, 4) == (0, 2)


def test_mask_from_maps_averages_the_chosen_ranks():
    n_img = 5
    # block b has total activation ordered by `levels`; ranks 1..2 are blocks 0 and 3
    levels = [0.6, 0.9, 0.1, 0.5, 0.2]
    maps = [torch.full((1, n_img), lv) for lv in levels]
    maps[0][0, :2] = 1.0  # block 0 stays at rank 1 (sum 4.8 vs 2.5 for block 3)
    mask = mask_from_maps(maps, start=1, count=2, threshold=0.3)
    expected = (maps[0] + maps[3]) / 2 > 0.3
    assert torch.equal(mask, expected)
    assert mask.tolist() == [[True, True, True, True, True]]
    mask = mask_from_maps(maps, start=3, count=2, threshold=0.3)  # blocks 4 and 2: mean 0.15
    assert not mask.any()


# -- highlighting in the transformer -------------------------------------------------------------
def _sample(model, inputs, params, focus=(1, 2), steps=N_STEPS):
    outs, maps = [], []
    with AttentionHooks(model, GRID, highlight=True, focus_positions=focus, text_len=TEXT_LEN,
                        params=params) as hooks:
        for step in range(steps):
            hooks.set_call("sample", step, float(GRID[step]), "start")
            outs.append(forward(model, inputs, GRID[step]))
            maps.append(hooks.block_maps)
    return outs, maps, hooks


def test_highlighting_in_transformer_starts_at_from_step_and_uses_previous_maps(transformer):
    inputs = make_inputs(40)
    params = {"highlight_from_step": 2, "highlight_impl": "explicit"}
    outs, maps, hooks = _sample(transformer, inputs, params)
    for step, out in enumerate(outs):
        plain = forward(transformer, inputs, GRID[step])
        if step < 2:
            torch.testing.assert_close(out, plain, rtol=1e-5, atol=1e-6)
        else:
            assert (out - plain).abs().max() > 1e-4
    # maps are recorded only where a later step reads them: steps 1 and 2 of 0..3
    assert [set(m) for m in maps] == [set(), *[{"transformer_blocks.0", "transformer_blocks.1"}] * 2, set()]
    # the final mask comes from the previous step's maps
    expected = mask_from_maps([maps[2][n] for n in sorted(maps[2])], start=11, count=4, threshold=0.3)
    assert torch.equal(hooks.last_mask, expected)
    assert hooks.last_mask.shape == (1, GRID_H * GRID_W)
    assert hooks.counts["highlighted"] == 2 * 2  # two double blocks, steps 2 and 3


def test_mask_needs_maps_of_the_step_just_before(transformer):
    inputs = make_inputs(44)
    with AttentionHooks(transformer, GRID, highlight=True, focus_positions=[1], text_len=TEXT_LEN,
                        params={"highlight_from_step": 1}) as hooks:
        hooks.set_call("sample", 0, float(GRID[0]), "start")
        forward(transformer, inputs, GRID[0])
        hooks.set_call("sample", 2, float(GRID[2]), "start")  # step 1 never ran: no mask
        forward(transformer, inputs, GRID[2])
        assert hooks.last_mask is None and hooks.counts["highlighted"] == 0
        hooks.set_call("sample", 3, float(GRID[3]), "start")  # last step: maps of step 2
        forward(transformer, inputs, GRID[3])
        assert hooks.last_mask is not None and hooks.counts["highlighted"] == 2


def test_unit_multipliers_leave_the_output_unchanged(transformer):
    inputs = make_inputs(41)
    outs, _, hooks = _sample(transformer, inputs, {"highlight_from_step": 1, "mult_in": 1.0, "mult_out": 1.0})
    assert hooks.counts["highlighted"] > 0
    for step, out in enumerate(outs):
        torch.testing.assert_close(out, forward(transformer, inputs, GRID[step]), rtol=1e-5, atol=1e-5)


def test_fused_equals_explicit_in_transformer(transformer):
    inputs = make_inputs(42, batch=2)
    params = {"highlight_from_step": 1, "threshold": 0.2}
    explicit, _maps_e, hooks_e = _sample(transformer, inputs, {**params, "highlight_impl": "explicit"})
    fused, _maps_f, hooks_f = _sample(transformer, inputs, {**params, "highlight_impl": "fused"})
    assert hooks_e.last_mask.any() and not hooks_e.last_mask.all(), "the test needs a mixed mask"
    assert torch.equal(hooks_e.last_mask, hooks_f.last_mask)
    for a, b in zip(explicit, fused):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)


def test_no_focus_positions_skip_highlighting(transformer):
    inputs = make_inputs(43)
    outs, maps, hooks = _sample(transformer, inputs, {"highlight_from_step": 0}, focus=())
    assert hooks.last_mask is None and not maps[-1]
    torch.testing.assert_close(outs[-1], forward(transformer, inputs, GRID[N_STEPS - 1]), rtol=1e-5, atol=1e-6)


# -- install / restore -------------------------------------------------------------------------
def test_processors_restored_after_block_and_after_exception(transformer):
    hooks = AttentionHooks(transformer, GRID, inject_steps=1, highlight=True, focus_positions=[1],
                           text_len=TEXT_LEN)
    with hooks:
        assert all(type(p).__name__ == "EditAttnProcessor" for p in transformer.attn_processors.values())
        with pytest.raises(RuntimeError):
            hooks.__enter__()
    assert_default_processors(transformer)
    assert not hooks.installed

    hooks = AttentionHooks(transformer, GRID, inject_steps=1, text_len=TEXT_LEN)
    with pytest.raises(KeyError), hooks:  # the exception leaves the hooks' block
        hooks.set_call("invert", 0, mid(0), "mid")
        forward(transformer, make_inputs(50), mid(0))
        assert hooks.stored_bytes > 0
        raise KeyError("boom")
    assert_default_processors(transformer)
    assert hooks.stored_bytes == 0


def test_bad_calls_get_clear_errors(transformer):
    with pytest.raises(ValueError, match="descending"):
        AttentionHooks(transformer, [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="focus positions"):
        AttentionHooks(transformer, GRID, focus_positions=[TEXT_LEN], text_len=TEXT_LEN)
    hooks = AttentionHooks(transformer, GRID, text_len=TEXT_LEN + 1)
    with pytest.raises(ValueError, match="phase"):
        hooks.set_call("denoise", 0, 1.0)
    with pytest.raises(ValueError, match="substep"):
        hooks.set_call("sample", 0, 1.0, "end")
    with pytest.raises(ValueError, match="text_len"), hooks:
        hooks.set_call("sample", 0, 1.0)
        forward(transformer, make_inputs(60), 1.0)
    assert_default_processors(transformer)
