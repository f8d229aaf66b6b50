"""Edit settings a user can change in the chat or the sidebar, and the strength mapping.

Strength (0..1, from a plan step, or the conversation's override) maps onto the
method's real knobs. 0.5 is the preset itself; lower keeps more of the current
image, higher lets the target prompt move it further:

    strength   eta (LQR pull toward the anchors)   stop (share of steps under control)   inject (V-injection steps)
    0.0        preset eta + 0.08 (max 1.0)         preset stop + 0.10                     preset inject + 1
    0.5        preset eta                          preset stop                            preset inject
    1.0        preset eta - 0.30 (min 0.0)         preset stop - 0.15 (min 0.0)           max(preset inject - 1, 0)

linearly in between (inject rounded). Values the user set explicitly
(EditSettings.eta / stop / inject) win over the mapping.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import ClassVar

# Knob: (delta at strength 0, delta at strength 1, lower bound, upper bound)
STRENGTH_MAP: dict[str, tuple[float, float, float, float]] = {
    "eta": (+0.08, -0.30, 0.0, 1.0),
    "stop": (+0.10, -0.15, 0.0, 1.0),
    "inject": (+1.0, -1.0, 0.0, 10.0),
}


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
    if value is None:
        if key in ("preset", "seed"):
            raise ValueError(f"{key} cannot be unset")
        return None
    if key == "preset":
        return str(value)
    if key in ("steps", "inject", "seed"):
        v = int(value)
        if v < 0 or (key == "steps" and not 1 <= v <= 200):
            raise ValueError(f"{key} out of range: {value}")
        return v
    if key == "highlight":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "on", "yes")
        return bool(value)
    v = float(value)
    if key in ("eta", "lam", "stop", "strength") and not 0.0 <= v <= 1.0:
        raise ValueError(f"{key} must be between 0 and 1, got {value}")
    if key == "guidance" and not 0.0 <= v <= 30.0:
        raise ValueError(f"guidance out of range: {value}")
    return v


def _lerp_delta(strength: float, at0: float, at1: float) -> float:
    s = min(max(strength, 0.0), 1.0)
    return at0 * (1 - 2 * s) if s <= 0.5 else at1 * (2 * s - 1)


def strength_overrides(strength: float, base: dict) -> dict:
    """The knob values for `strength`, given the preset's resolved params `base`.

    Only knobs that the preset has are returned (a preset without LQR control
    gets no eta/stop).
    """
    out: dict = {}
    for knob, (at0, at1, lo, hi) in STRENGTH_MAP.items():
        if knob not in base or base[knob] is None:
            continue
        value = float(base[knob]) + _lerp_delta(strength, at0, at1)
        value = min(max(value, lo), hi)
        out[knob] = round(value) if knob == "inject" else round(value, 4)
    return out
