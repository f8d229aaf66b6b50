"""Allowed ranges of the numbers a user can give an edit (chat, CLI, settings panel).

check_number(name, value) returns the value as the right type or raises ValueError with
a sentence naming the setting, the value and the allowed range. Nothing here is clamped
silently: a number outside its range is refused.
"""

from __future__ import annotations

import math

MAX_SEED = 2**63 - 1  # stored in a signed 64-bit column; torch accepts it

# name: (kind, low, high, what it is)
RANGES: dict[str, tuple[type, float, float, str]] = {
    "steps": (int, 1, 200, "solver steps"),
    "guidance": (float, 0.0, 30.0, "guidance"),
    "eta": (float, 0.0, 1.0, "LQR pull eta"),
    "lam": (float, 0.0, 1.0, "lambda"),
    "stop": (float, 0.0, 1.0, "control stop"),
    "strength": (float, 0.0, 1.0, "strength"),
    "inject": (int, 0, 200, "injection steps"),
    "seed": (int, 0, MAX_SEED, "seed"),
    "width": (int, 16, 8192, "width in pixels"),
    "height": (int, 16, 8192, "height in pixels"),
    "max_side": (int, 32, 8192, "long side in pixels"),
}


def allowed(name: str) -> str:
    kind, lo, hi, _ = RANGES[name]
    if kind is int:
        high = "2^63 - 1" if hi == MAX_SEED else f"{int(hi)}"
        return f"a whole number from {int(lo)} to {high}"
    return f"a number from {lo:g} to {hi:g}"


def check_number(name: str, value):
    """`value` (a number or its text) as int/float within the range of `name`."""
    if name not in RANGES:
        return value
    kind, lo, hi, what = RANGES[name]
    shown = str(value).strip()
    if len(shown) > 40:
        shown = shown[:37] + "..."
    problem = f"{name} = {shown} is not allowed: {what} must be {allowed(name)}"
    if isinstance(value, bool):
        raise ValueError(problem)  # noqa: TRY004 - True is not a number of steps
    try:
        if kind is int:
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError
                number = int(value)
            else:
                text = str(value).strip().replace("_", "")
                number = int(text) if len(text) <= 40 else None
                if number is None:
                    raise ValueError
        else:
            number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(problem) from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(problem)
    if not lo <= number <= hi:
        raise ValueError(problem)
    return number


def argparse_type(name: str):
    """An argparse `type=` that refuses values outside the range of `name`."""
    import argparse

    def parse(text: str):
        try:
            return check_number(name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse
