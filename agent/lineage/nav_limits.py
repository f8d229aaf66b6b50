"""Numbers in requests to go back, checked before they are read as words.

"undo the last 1e9 edits" or "back to turn -1" carry a number no turn or count can be;
read as words they would match nothing ("no version with '1e9'") or something else.
`problem(text, store, conversation_id)` answers them with the range that exists on the
current branch, or returns None (plain whole numbers are left to agent/references.py).
"""

from __future__ import annotations

import re

from agent.lineage import walks as lineage
from agent.reading.op_limits import NUM

_UNITS = r"(?:edits?|steps?|changes?|turns?|versions?|times?|images?)"
_COUNT = re.compile(
    rf"\b(?:undo|revert|roll\s*back)\s+(?:the\s+)?(?:last\s+|past\s+|previous\s+)?(?P<a>{NUM})"
    rf"(?:\s+(?:more\s+)?{_UNITS})?(?![\w.])"
    rf"|\bback\s+(?:by\s+)?(?P<b>{NUM})\s+(?:more\s+)?{_UNITS}\b"
    rf"|(?<![\w.])(?P<c>{NUM})\s+(?:more\s+)?{_UNITS}\s+(?:ago|back|earlier|before)\b",
    re.IGNORECASE)
_TURN = re.compile(
    rf"\b(?:back|go|return|jump|switch|revert|roll\s*back|move|take\s+me)\s+(?:back\s+)?to\s+"
    rf"(?:the\s+)?(?:turn|step|version|edit|node|number|no\.?|#)\s*(?:number\s*)?#?"
    rf"(?P<n>{NUM})(?![\w.])", re.IGNORECASE)
_PLAIN = re.compile(r"\d{1,6}")


def problem(text: str, store, conversation_id: str | None) -> str | None:
    """The reply for a count or turn number that cannot exist, or None."""
    count = _COUNT.search(text)
    turn = _TURN.search(text)
    if count is None and turn is None:
        return None
    raw = (count.group("a") or count.group("b") or count.group("c")) if count else turn.group("n")
    if _PLAIN.fullmatch(raw.strip()):
        return None
    shown = " ".join(raw.split())[:24]
    head = store.head(conversation_id) if conversation_id is not None else None
    if head is None:
        return "There are no images yet: nothing to go back to. Nothing was changed."
    if count is not None:
        if head.depth == 0:
            return ("This is the original image: there is nothing to undo. Nothing was "
                    "changed.")
        return (f"I can go back 1 to {head.depth} edits from here (the current image is turn "
                f"{head.depth}, the original is turn 0); \"{shown}\" is not a number of edits I "
                "can undo. Nothing was changed.")
    last = len(lineage.current_branch(store.nodes(conversation_id), head.id)) - 1
    return (f"This branch has turns 0 (the original) to {last}; \"{shown}\" is not one of "
            "them. Say \"show the history\" to see them. Nothing was changed.")
