"""Named editing recipes. Every parameter can be overridden per edit and is recorded.

mtc          the multi-turn consistent method: FireFlow + dual-objective LQR (source and
             previous turn) + V injection; adaptive attention highlighting is off by
             default (tuned on the bundled model; `highlight=true` turns it on).
fireflow     FireFlow inversion/editing with V injection, no control.
rf_solver    RF-Solver-Edit: midpoint solver, V injection.
rf_inversion RF-Inversion as the multi-turn authors run it as a baseline: Euler, 28
             steps, LQR on the index clock for the first 35 % of steps, lambda 0.7
             whenever a previous image exists.
rf           vanilla ReFlow inversion + sampling with Euler.

mtc's feature knobs are plain parameters, set per preset or per edit: `inject`
(sampling steps with V injection; 0 = off, the authors' demo default), `highlight`
(adaptive attention highlighting on/off) and `highlight_fallback` (what to highlight
when no focus word is in the prompt). `steps_for_nfe` sizes any preset for a budget
of model calls per turn.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from editing_core.limits import check_number

# Attention hooks' parameters (editing_core/attention.py and highlight.py read these).
ATTENTION: dict = {
    "mult_in": 2.0,  # image->text attention multiplier inside the mask
    "mult_out": 0.8,  # ... and outside it
    "highlight_k": 15,  # first K text tokens re-weighted
    "highlight_from_step": 4,  # first sampling step that uses a mask
    "highlight_start": 11,  # block maps ranked by activation (0-based): average from this rank ...
    "highlight_blocks": 4,  # ... this many maps
    "threshold": 0.3,  # mask threshold on the averaged map
    "highlight_impl": "fused",  # fused (one SDPA call) | explicit (full L x L reference)
    "inject_store": "device",  # where stored V lives: device | cpu
    "inject_text": True,  # inject the text tokens' V too, or the image part only
}

COMMON: dict = {
    "solver": "fireflow",  # euler | rf_solver | fireflow
    "steps": 8,
    "guidance": 3.5,  # sampling guidance (FLUX.1-dev's guidance embedding)
    "inversion_guidance": 1.0,
    "control": "none",  # none | dual (lam = 1 is single-target RF-Inversion)
    "eta": 0.9,
    "stop": 0.25,
    "lam": 0.7,
    "clock": "index",  # control's remaining-time measure: index (1 - i/N) | time (t)
    "gamma": 0.0,  # inversion control toward a seeded Gaussian; 0 = off
    "inject": 0,  # sampling steps with V injection from the inversion
    "highlight": False,
    # When no focus word maps to a T5 token: first_noun (the target prompt's first
    # noun, else the position below) | position | none (no highlighting, as before).
    "highlight_fallback": "first_noun",
    "highlight_fallback_position": 2,  # the authors' fixed focus token
    **ATTENTION,
    "true_cfg": 1.0,  # real CFG for models without guidance embedding (schnell)
    "negative_prompt": "",
    "max_sequence_length": 512,  # T5 tokens (capped by the tokenizer's limit)
}

PRESETS: dict[str, dict] = {
    "mtc": {
        **COMMON,
        "solver": "fireflow",
        "steps": 8,
        "control": "dual",
        # The published setting (stop 0.25, highlighting on). On the bundled model,
        # stop 0.125 without highlighting did better (toyworld/model/README.md), but
        # plain Euler did better still, so that model's folder names rf as its default
        # (mtedit.json); highlighting's published ablation is on real FLUX.
        "stop": 0.25,
        "gamma": 0.5,
        "inject": 1,
        "highlight": True,
    },
    "fireflow": {**COMMON, "solver": "fireflow", "steps": 8, "inject": 1},
    "rf_solver": {**COMMON, "solver": "rf_solver", "steps": 25, "inject": 2},
    "rf_inversion": {  # the multi-turn authors' RF-Inversion baseline
        **COMMON,
        "solver": "euler",
        "steps": 28,
        "control": "dual",
        "stop": 0.35,
        "lam": 0.7,  # toward X_src + 0.7 (X_prev - X_src); turn 1 (no previous): X_src
        "gamma": 0.5,
        "clock": "index",
    },
    "rf": {**COMMON, "solver": "euler", "steps": 28},
}

_CHOICES = {"solver": ("euler", "rf_solver", "fireflow"), "control": ("none", "dual"),
            "clock": ("index", "time"), "highlight_impl": ("fused", "explicit"),
            "inject_store": ("device", "cpu"),
            "highlight_fallback": ("first_noun", "position", "none")}


def resolve_params(preset: str = "mtc", overrides: Mapping | None = None) -> dict:
    """The preset's parameters with `overrides` applied (None values are ignored).

    Unknown names and wrong types raise ValueError so a typo never passes silently.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    params = copy.deepcopy(PRESETS[preset])
    for key, value in (overrides or {}).items():
        if value is None or key == "preset":
            continue
        if key not in params:
            raise ValueError(f"unknown edit parameter {key!r}; known: {', '.join(sorted(params))}")
        default = params[key]
        try:
            if isinstance(default, bool):
                if isinstance(value, str):
                    value = value.strip().lower() in ("1", "true", "yes", "on")
                value = bool(value)
            elif isinstance(default, int):
                if float(value) != int(float(value)):
                    raise ValueError
                value = int(float(value))
            elif isinstance(default, float):
                value = float(value)
            else:
                value = str(value)
        except (TypeError, ValueError):
            raise ValueError(f"edit parameter {key!r} expects {type(default).__name__}, "
                             f"got {value!r}") from None
        if key in _CHOICES and value not in _CHOICES[key]:
            raise ValueError(f"{key} must be one of {', '.join(_CHOICES[key])}, not {value!r}")
        params[key] = check_number(key, value)  # NaN, inf and out-of-range are refused
    for key in ("eta", "stop", "lam", "gamma", "threshold"):
        if not 0.0 <= params[key] <= 1.0:
            raise ValueError(f"{key} must be between 0 and 1, not {params[key]}")
    if params["guidance"] < 0 or params["inversion_guidance"] < 0 or params["true_cfg"] < 1:
        raise ValueError("guidance values must be >= 0 and true_cfg >= 1")
    if params["steps"] < 1:
        raise ValueError("steps must be at least 1")
    if params["inject"] < 0 or params["inject"] > params["steps"]:
        raise ValueError("inject must be between 0 and steps")
    params["preset"] = preset
    return params


# The planner's strength (0..1) moves these knobs around the preset's value:
# knob: (delta at strength 0, delta at strength 1, lower bound, upper bound).
STRENGTH_MAP: dict[str, tuple[float, float, float, float]] = {
    "eta": (+0.08, -0.30, 0.0, 1.0),
    "stop": (+0.10, -0.15, 0.0, 1.0),
    "inject": (+1.0, -1.0, 0.0, 10.0),
}


def _lerp_delta(strength: float, at0: float, at1: float) -> float:
    s = min(max(strength, 0.0), 1.0)
    return at0 * (1 - 2 * s) if s <= 0.5 else at1 * (2 * s - 1)


def strength_overrides(strength: float, params: Mapping) -> dict:
    """The method's knobs for a planner strength (0..1), around the resolved `params`.

    0.5 is the preset itself; lower keeps more of the current image, higher lets the
    target prompt move it further (linear in between, inject rounded):

        strength  eta (LQR pull)       stop (share of steps under control)  inject (V injection)
        0.0       eta + 0.08 (max 1)   stop + 0.10 (max 1)                  inject + 1
        0.5       eta                  stop                                 inject
        1.0       eta - 0.30 (min 0)   stop - 0.15 (min 0)                  inject - 1 (min 0)

    Only knobs the preset uses move: eta and stop only under LQR control
    (control = "dual"), inject only when the preset injects at all (a baseline
    without injection never gains it); inject never exceeds the step count.
    """
    used = []
    if params.get("control", "none") != "none":
        used += ["eta", "stop"]
    if int(params.get("inject", 0)) > 0:
        used.append("inject")
    out: dict = {}
    for knob in used:
        at0, at1, lo, hi = STRENGTH_MAP[knob]
        value = min(max(float(params[knob]) + _lerp_delta(strength, at0, at1), lo), hi)
        out[knob] = round(value, 4)
    if "inject" in out:
        out["inject"] = min(round(out["inject"]), int(params["steps"]))
    return out


def edit_nfe(params: Mapping, *, inversion: bool = True) -> int:
    """Transformer forwards of one turn: inversion pass + sampling pass (x2 with true CFG)."""
    from editing_core.solvers import solver_nfe

    per_pass = solver_nfe(params["solver"], params["steps"])
    cfg = 2 if params.get("true_cfg", 1.0) > 1.0 and params.get("negative_prompt") else 1
    return (per_pass if inversion else 0) + cfg * per_pass


def steps_for_nfe(preset: str, nfe: int, overrides: Mapping | None = None) -> int:
    """Solver steps that bring one turn of `preset` (inversion + sampling, see `edit_nfe`)
    as near as its solver allows to `nfe` model calls; on a tie, the cheaper one.

    E.g. nfe 18: fireflow 8 steps (2 (N + 1) = 18), euler 9 (2N), rf_solver 4 (4N: 16
    and 20 are as near, 16 is cheaper). At least 1 step, even below one step's cost.
    """
    if int(nfe) < 1:
        raise ValueError(f"an NFE budget is at least 1 model call, not {nfe}")
    params = resolve_params(preset, {k: v for k, v in (overrides or {}).items()
                                     if k not in ("steps", "inject")})

    def cost(steps: int) -> int:
        return edit_nfe({**params, "steps": steps})

    steps = 1
    while cost(steps + 1) <= nfe:
        steps += 1
    if abs(cost(steps + 1) - nfe) < abs(cost(steps) - nfe):
        steps += 1
    return steps


def nfe_overrides(preset: str, nfe: int, overrides: Mapping | None = None) -> dict:
    """`overrides` plus the step count of `steps_for_nfe`; V injection is capped at the new
    step count (a 25-step preset's 2 injected steps do not fit in 1 step)."""
    out = dict(overrides or {})
    out["steps"] = steps_for_nfe(preset, nfe, out)
    inject = out.get("inject")
    if inject is None:
        inject = PRESETS[preset]["inject"]
    out["inject"] = min(int(inject), out["steps"])
    return out
