"""Edits the chat will not make, whatever the wording: a picture meant to deceive someone
(evidence for the police, a refund, an insurance claim, a fake news photo, a product
passed off as genuine, someone shown taking a bribe) and a person undressed. The words
are prompts/vocabulary.yaml's `misuse` lists; `misuse(text)` is a polite refusal or None.
Nothing is run or stored for such a message (agent/reading/validate.py)."""

from __future__ import annotations

import functools
import re

from agent.prompts import alternation, vocabulary


@functools.cache
def _patterns() -> tuple[re.Pattern, re.Pattern]:
    m = vocabulary().get("misuse", {})
    purpose = re.compile(rf"\b(?:{alternation(m.get('deceive', []))})\b", re.IGNORECASE)
    undress = re.compile(rf"\b(?:{alternation(m.get('undress', []))})\b", re.IGNORECASE)
    return purpose, undress


def misuse(text: str) -> str | None:
    """A refusal for an edit meant to deceive or to undress someone; None otherwise."""
    purpose, undress = _patterns()
    t = " ".join((text or "").replace("’", "'").split())
    if purpose.search(t):
        what = "a picture meant to pass as real to someone (evidence, a claim, a sale or news)"
    elif undress.search(t):
        what = "showing a person undressed"
    else:
        return None
    return (f"I won't make that change: it asks for {what}. Nothing was run or stored. I am "
            "happy to help with other changes to the picture.")
