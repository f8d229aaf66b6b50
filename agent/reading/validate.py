"""Checks of what the user types, before anything is planned or stored.

message_problem(text) returns a reply for a message that cannot be used as it is (a
word too long to be one, a setting given a number outside its range, NaN or infinity;
code, commands, injection strings and keyboard mash: agent/reading/hostile.py), or None. Ranges are editing_core.limits', so the chat, the CLI and the settings panel
agree.
"""

from __future__ import annotations

import re

from agent.reading.hostile import refusal
from agent.reading.intents import asks_to_delete
from agent.reading.misuse import misuse
from editing_core.limits import check_number
from mtedit.text import unreadable

MAX_WORD = 100  # characters; longer "words" are pasted data, not language

_KEYS = {
    "steps": r"steps?",
    "guidance": r"guidance(?:\s+scale)?|cfg",
    "eta": r"eta",
    "lam": r"lambda|lam",
    "stop": r"stop",
    "seed": r"seed",
    "inject": r"inject(?:ion)?(?:\s+steps)?",
    "strength": r"strength",
}
# What a user may have meant as a number: digits, signs, exponents, nan / inf.
_NUM = r"[-+]?(?:nan|inf(?:inity)?|\d[\d_]*(?:\.\d*)?(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?)"
_SETTINGY = re.compile(
    r"^(?:please\s+|now\s+)?(?:use|set|change|switch|turn|try|with|using)\b"
    r"|^\s*" + _NUM + r"\s+(?:" + "|".join(_KEYS.values()) + r")\b"
    r"|^(?:" + "|".join(_KEYS.values()) + r")\b"
    r"|\b(?:with|using|at)\s+[^,;]*?\b(?:" + "|".join(_KEYS.values()) + r")\b",
    re.IGNORECASE,
)


def message_problem(text: str) -> str | None:
    """A reply explaining why `text` cannot be used, or None when it can."""
    if why := unreadable(text):  # control characters, another script, no words
        return why
    long = next((w for w in text.split() if len(w) > MAX_WORD), None)
    if long is not None:
        return (f"That message has a word of {len(long)} characters; words can be at most "
                f"{MAX_WORD} characters. Nothing was changed: please send it again in words.")
    if (why := refusal(text)) and not asks_to_delete(text):  # injection, code, mash ...
        return why  # (a request to delete gets the chat's own answer: nothing is deleted)
    if why := misuse(text):  # a picture meant to deceive, a person undressed
        return why
    if not _SETTINGY.search(text):
        return None
    for key, names in _KEYS.items():
        for m in re.finditer(
            rf"\b(?:{names})\s*(?:to|=|:|of|at)?\s*(?P<a>{_NUM})(?![\w.])"
            rf"|(?<![\w.])(?P<b>{_NUM})\s+(?:{names})\b",
            text, re.IGNORECASE,
        ):
            value = m.group("a") or m.group("b")
            try:
                check_number(key, value)
            except ValueError as exc:
                return f"I could not use that: {exc}. Nothing was changed."
    return None
