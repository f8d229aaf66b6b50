"""Cleaning a request's text once: politeness, fillers and end punctuation off
("ok, could you please make it blue, thanks!" -> "make it blue"), typing slips put right
(agent/reading/spelling.py).

clean_request returns a CleanText (a str that says it is clean, the way markupsafe's
Markup says it is escaped): cleaning it again returns it as it is, so a request read
by the chat and then planned is cleaned once.
"""

from __future__ import annotations

import re

from agent.reading import spelling

_BW = re.compile(r"\bb\s*(?:and|&|n|/)\s*w\b", re.IGNORECASE)  # "b&w", "b and w"
_FIRST = re.compile(r"^(?:no|nope|nah|hmm+|ok(?:ay)?)[,.!]+\s*", re.IGNORECASE)
_TRAILING = re.compile(r"(?:[\s,]+(?:please|pls|plz|thanks|thank you|thx|for me|if you can|lol|lmao|"
                       r"haha+|hehe+|xd|:\)|:d|;\)|\(?joking\)?|"
                       r"if possible|now|too|as well|tbh|maybe|perhaps|somehow|i guess|i think|"
                       r"if that makes sense|if you don't mind))+$", re.IGNORECASE)
_LEADS = re.compile(
    r"^(?:(?:ok(?:ay)?|now|next|also|and|then|please|pls|hey|so|great|nice|cool|good)[,!.]?\s+)*"
    r"(?:(?:can|could|would|will) you\s+|i(?:'d| would) like (?:you )?to\s+|i want (?:you )?to\s+"
    r"|let's\s+|lets\s+|try to\s+|try\s+(?=to\b)|go ahead and\s+)?(?:please\s+)?"
    r"(?:(?:possibly|maybe|perhaps|just)\s+(?=[a-z]+\s))?",
    re.IGNORECASE,
)


class CleanText(str):
    """Text clean_request has cleaned."""


def clean_request(text: str) -> CleanText:
    """The request without politeness, fillers and end punctuation (cleaned until nothing
    more comes off)."""
    if isinstance(text, CleanText):
        return text
    text = spelling.correct(text)  # typing slips: "recrod" -> "record"
    text = _BW.sub("black and white", text)
    prev = None
    while prev != text:
        prev = text
        text = " ".join(text.strip().split())
        text = text.rstrip("?!. ")
        text = _FIRST.sub("", text)
        text = _TRAILING.sub("", text).rstrip("?!.,: ")
        text = _LEADS.sub("", text).strip()
    return CleanText(text)
