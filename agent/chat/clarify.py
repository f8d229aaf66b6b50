"""Asking instead of acting on a misreading, and taking the answer.

ask() stores an assistant message of kind "ask" whose meta holds the choices it offered
({"choices": [{"say", "kind": "move" | "edit" | "plan", ...}]}), so the question lives
in the store: the next message ("that one", "the first one", "2", "the one with the
hat", "the more recent one") is read against it by pick(), in this session or in a new
one over the same store (a page reload). A message that answers none of the choices is
read as a new message.
"""

from __future__ import annotations

import re

from agent.chat import head_moves, submit
from agent.chat.turn import Turn
from agent.chat.views import Reply
from agent.reading.words import content_words, forms, keys

_ORDINAL = {"first": 0, "1st": 0, "one": 0, "1": 0, "second": 1, "2nd": 1, "two": 1, "2": 1,
            "third": 2, "3rd": 2, "three": 2, "3": 2, "fourth": 3, "4th": 3, "four": 3, "4": 3}
_YES = re.compile(r"^(?:yes|yeah|yep|yup|ya|sure|ok(?:ay)?|right|correct|exactly|please|"
                  r"that(?:'s)?(?: one| it| the one)?|this(?: one)?|do (?:it|that)|go ahead|"
                  r"the (?:first|top) (?:one|choice|option)|that one please|yes please|"
                  r"yes,? (?:that|this)(?: one)?|(?:i )?meant that(?: one)?)$", re.IGNORECASE)
_LATER = re.compile(r"\b(?:later|latest|newer|newest|more recent|most recent|last|latter|"
                    r"second one of the two)\b", re.IGNORECASE)
_EARLIER = re.compile(r"\b(?:earlier|earliest|older|oldest|former|first one of the two)\b",
                      re.IGNORECASE)


def pending(store, conversation_id: str) -> dict | None:
    """The question the chat asked last, when it is the conversation's latest message."""
    msg = store.latest_message(conversation_id)
    if msg is not None and msg.role == "assistant" and msg.kind == "ask" and \
            msg.meta.get("choices"):
        return msg.meta
    return None


def pick(text: str, choices: list[dict], store=None) -> int | None:
    """Which choice the answer names, or None."""
    low = re.sub(r"[^\w\s'#]", " ", text.lower()).strip()
    low = re.sub(r"^(?:(?:no|ok(?:ay)?|um+|hmm+|oh|ah|well|so|i mean|i meant|i want|i'd like|"
                 r"let's go with|go with|take|pick|choose|the answer is)\s+)+", "", low)
    low = " ".join(re.sub(r"\b(?:please|pls|thanks|thank you)\b", " ", low).split())
    if not low:
        return None
    if _YES.match(low):
        return 0
    m = re.match(r"^(?:(?:number|option|choice|no)\s*)?#?(\d)$|^(?:the\s+)?(first|second|third|"
                 r"fourth|1st|2nd|3rd|4th|one|two|three|four)(?:\s+(?:one|option|choice|version|"
                 r"image|picture|branch))?$", low)
    if m:
        k = _ORDINAL.get(m.group(1) or m.group(2))
        return k if k is not None and k < len(choices) else None
    if re.match(r"^(?:the\s+)?(?:last|final|bottom)(?:\s+one)?$", low):
        return len(choices) - 1
    kinds = [c.get("kind") for c in choices]
    if re.match(r"^(?:the\s+)?(?:edit|change it|edit it|make the (?:edit|change))$", low) and \
            kinds.count("edit") + kinds.count("plan") == 1:
        return next(i for i, k in enumerate(kinds) if k in ("edit", "plan"))
    if re.match(r"^(?:go back|move|the move|go there|back)$", low) and kinds.count("move") == 1:
        return kinds.index("move")
    moves = [i for i, c in enumerate(choices) if c.get("kind") == "move" and c.get("made")]
    if len(moves) >= 2 and len(low.split()) <= 8:
        order = sorted(moves, key=lambda i: choices[i]["made"])
        if _LATER.search(low):
            return order[-1]
        if _EARLIER.search(low):
            return order[0]
    return _by_words(low, choices)


def _by_words(low: str, choices: list[dict]) -> int | None:
    """The one choice whose own words the answer uses ("the blue one", "the lab")."""
    query = [w for w in content_words(low) if w not in ("one", "version", "branch", "option")]
    if not query:
        return None
    own = [keys(c.get("words", "") + " " + c.get("say", "")) for c in choices]
    common = frozenset.intersection(*own) if own else frozenset()
    scores = []
    for have in own:
        distinct = have - common
        score = 0
        for q in query:
            qf = forms(q)
            if qf & distinct or (len(q) >= 3 and any(h.startswith(q) for h in distinct)):
                score += 1
        scores.append(score)
    best = max(scores)
    if best == 0 or scores.count(best) > 1:
        return None
    return scores.index(best)


def follow(turn: Turn, choice: dict) -> list[Reply]:
    """Do what the chosen choice says (under the conversation's claim)."""
    store = turn.store
    if choice["kind"] == "move":
        if (busy := turn.busy()) is not None:
            return [busy]
        node = store.get_node(choice["node_id"])
        return [head_moves.move_head(turn, node, turn.text,
                                     verb=choice.get("verb", "Back to"))]
    if choice["kind"] == "plan":
        return submit.run_plan(turn, choice["request"], choice["steps"], turn.text)
    return submit.edit(turn, choice["request"], choice.get("once") or {}, turn.text)
