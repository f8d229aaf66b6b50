"""Numbers given to exact operations, checked before planning.

"resize to 0x0", "scale to 1e9%", "rotate nan degrees" or "crop to 16:0" name an exact
operation (agent/ops.py) with a number it cannot use. Such a request is refused with the
allowed range; it is never planned as a diffusion edit with the raw words appended to
the caption. `problem(text)` returns that refusal, or None when every number of an
operation in the text is usable (or there is no operation).
"""

from __future__ import annotations

import math
import re

from agent.ops import MAX_SIDE, MIN_SIDE

# Anything a person may have meant as a number: signs, separators, exponents, nan, inf.
NUM = (r"[-+−]?\s?(?:nan|inf(?:inity)?|\d[\d_,']*(?:\.\d*)?(?:e[-+]?\d+)?"
       r"|\.\d+(?:e[-+]?\d+)?)")
_IT = r"(?:\s+(?:it|this|that|everything|the\s+(?:whole\s+)?(?:image|picture|photo|pic|scene)))?"
_SIZE_VERBS = r"(?:resize|scale|rescale|shrink|enlarge|upscale|downscale)"
_SIZE = re.compile(rf"\b(?:{_SIZE_VERBS}|make){_IT}(?:\s+(?:to|down to|up to|into))?\s+"
                   rf"(?P<w>{NUM})\s*(?:x|×|\*|by)\s*(?P<h>{NUM})(?![\w.])", re.IGNORECASE)
_PERCENT = re.compile(rf"\b{_SIZE_VERBS}{_IT}(?:\s+(?:to|by|down to|up to))?\s+(?P<p>{NUM})"
                      rf"\s*(?:%|percent\b)", re.IGNORECASE)
_FACTOR = re.compile(rf"\b{_SIZE_VERBS}{_IT}(?:\s+(?:by|to))?\s+(?P<k>{NUM})\s*(?:x|×|times)"
                     rf"(?!\s*{NUM})(?![\w.])", re.IGNORECASE)
_ROTATE = re.compile(rf"\b(?:rotate|spin|tilt){_IT}(?:\s+(?:by|to))?\s+(?P<d>{NUM})"
                     rf"(?:\s*(?:degrees?|deg|°))?(?![\w.])"
                     rf"|\bturn{_IT}(?:\s+by)?\s+(?P<t>{NUM})\s*(?:degrees?|deg|°)",
                     re.IGNORECASE)
_RATIO = re.compile(rf"\b(?:crop|cut|trim){_IT}(?:\s+(?:to|into|as))?(?:\s+an?)?\s+"
                    rf"(?P<a>{NUM})\s*[:/x×]\s*(?P<b>{NUM})", re.IGNORECASE)
_KEEP = re.compile(rf"\b(?:crop|cut|trim|keep)\b[^.;]*?\bthe\s+(?:left|right|top|bottom)\s+"
                   rf"(?P<p>{NUM})\s*(?:%|percent\b)", re.IGNORECASE)
MAX_DEGREES = 360


def _number(text: str) -> float:
    """The value of `text` (nan when it is not a plain finite number)."""
    text = text.replace("−", "-").replace(" ", "").replace("_", "").replace(",", "")
    text = text.replace("'", "")
    try:
        value = float(text)
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def _whole(value: float, low: float, high: float) -> bool:
    return math.isfinite(value) and value.is_integer() and low <= value <= high


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 24 else text[:21] + "..."


def problem(text: str) -> str | None:
    """The refusal for an exact operation with a number it cannot use, or None."""
    low = text.replace("°", " degrees ")
    for m in _SIZE.finditer(low):
        w, h = _number(m.group("w")), _number(m.group("h"))
        if not (_whole(w, MIN_SIDE, MAX_SIDE) and _whole(h, MIN_SIDE, MAX_SIDE)):
            return (f"I can't resize to {_shown(m.group('w'))}x{_shown(m.group('h'))}: width "
                    f"and height must be whole numbers of pixels from {MIN_SIDE} to {MAX_SIDE}. "
                    "Nothing was changed.")
    for m in _PERCENT.finditer(low):
        p = _number(m.group("p"))
        if not (math.isfinite(p) and 1 < p <= 800):
            return (f"I can't scale to {_shown(m.group('p'))}%: the scale must be more than 1% "
                    "and at most 800%. Nothing was changed.")
    for m in _FACTOR.finditer(low):
        k = _number(m.group("k"))
        if not (math.isfinite(k) and 0.125 <= k <= 8):
            return (f"I can't scale by {_shown(m.group('k'))} times: the factor must be from "
                    "0.125 to 8. Nothing was changed.")
    for m in _ROTATE.finditer(low):
        raw = m.group("d") or m.group("t")
        d = _number(raw)
        if not (math.isfinite(d) and -MAX_DEGREES <= d <= MAX_DEGREES):
            return (f"I can't rotate by {_shown(raw)} degrees: the angle must be a number of "
                    f"degrees from -{MAX_DEGREES} to {MAX_DEGREES}. Nothing was changed.")
    for m in _RATIO.finditer(low):
        a, b = _number(m.group("a")), _number(m.group("b"))
        if not (_whole(a, 1, 9999) and _whole(b, 1, 9999) and max(a / b, b / a) <= 10):
            return (f"I can't crop to {_shown(m.group('a'))}:{_shown(m.group('b'))}: a ratio "
                    "needs two whole numbers from 1 to 9999, at most 10 times apart (e.g. 16:9). "
                    "Nothing was changed.")
    for m in _KEEP.finditer(low):
        p = _number(m.group("p"))
        if not (math.isfinite(p) and 5 <= p < 100):
            return (f"I can't keep {_shown(m.group('p'))}% of the image: the part kept must be "
                    "from 5% to 99%. Nothing was changed.")
    return None
