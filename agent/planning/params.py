"""Edit settings a user can change in the chat or the sidebar, and how they shape a plan.

How a plan step's strength moves the method's knobs is method knowledge:
editing_core.presets.strength_overrides. Values the user set explicitly
(EditSettings.eta / stop / inject) win over that mapping (agent/jobs/run.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import ClassVar

from agent.planning.plan import EditPlan, clamp_strength
from editing_core.limits import check_number
from editing_core.presets import PRESETS

PRESET_CHOICES: tuple[str, ...] = tuple(PRESETS)  # the editing core's preset names, for the UI
REGION_MODES = ("none", "auto")  # EditSettings.region


@dataclass(frozen=True)
class EditSettings:
    """Per-conversation overrides of the preset; None means "the preset's value"."""

    preset: str = "mtc"
    steps: int | None = None
    guidance: float | None = None
    eta: float | None = None
    lam: float | None = None  # the dual-objective weight lambda (a Python keyword, hence lam)
    stop: float | None = None
    highlight: bool | None = None
    inject: int | None = None
    seed: int = 0
    strength: float | None = None  # shifts each planned step's strength by (strength - 0.5)
    # where a local step may change the image when the user marked nothing: "none"
    # (anywhere, as without regions) or "auto" (where the edit acts: agent/jobs/regions.py)
    region: str = "none"

    _ALIASES: ClassVar[dict[str, str]] = {"lambda": "lam", "lambda_": "lam", "solver": "preset"}

    def updated(self, **kw) -> EditSettings:
        """Return a copy with the given fields changed (accepts `lambda=` via **{"lambda": x})."""
        names = {f.name for f in fields(self)}
        clean = {}
        for key, value in kw.items():
            key = self._ALIASES.get(key, key)
            if key not in names:
                raise ValueError(f"unknown edit setting {key!r}; known: {', '.join(sorted(names))}")
            clean[key] = _coerce(key, value)
        return replace(self, **clean)

    def as_dict(self) -> dict:
        return asdict(self)


def _coerce(key: str, value):
    if key == "region":
        value = str(value if value is not None else "").strip().lower()
        if value not in REGION_MODES:
            raise ValueError(f"region must be one of {', '.join(REGION_MODES)}, not {value!r}")
        return value
    if value is None:
        if key in ("preset", "seed"):
            raise ValueError(f"{key} cannot be unset")
        return None
    if key == "preset":
        return str(value)
    if key in ("steps", "inject", "seed"):
        return check_number(key, value)  # names the allowed range
    if key == "highlight":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "on", "yes")
        return bool(value)
    v = check_number(key, value)  # NaN and infinity are refused too
    if key in ("eta", "lam", "stop", "strength") and not 0.0 <= v <= 1.0:
        raise ValueError(f"{key} must be between 0 and 1, got {value}")
    if key == "guidance" and not 0.0 <= v <= 30.0:
        raise ValueError(f"guidance out of range: {value}")
    return v


def shift_strength(plan: EditPlan, center: float | None) -> EditPlan:
    """The conversation's strength setting shifts every step: 0.3 ("be subtler") takes 0.2
    off each step's strength, 0.7 adds 0.2 (clamped to 0.05..1)."""
    if center is None or center == 0.5:
        return plan
    steps = [s.model_copy(update={"strength": clamp_strength(s.strength + center - 0.5)})
             for s in plan.steps]
    return plan.model_copy(update={"steps": steps})


def core_overrides(es: EditSettings) -> dict:
    """EditSettings -> editing_core parameter names (unset ones are left to the preset)."""
    keys = ("steps", "guidance", "eta", "lam", "stop", "highlight", "inject")
    return {k: getattr(es, k) for k in keys if getattr(es, k) is not None}
