"""Words of a move that say an order, a place or the last move, and chat spellings:
"my third edit" (REQUEST), "the 4th version" (MADE), "the one before last" (BEFORE_LAST),
"where I was" (CAME_FROM), "undo" of whole requests (WHOLE), "once more" (AGAIN), a clause
that points at another ("take me there": POINTING), "go bakc 2 before" (respell).
agent.reading.references reads a move with them."""

from __future__ import annotations

import re

from agent.reading import spelling

NTH = (r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|\d{1,3}(?:st|nd|rd|th)"
        r"|last|latest|final|newest|most\s+recent)")
NUMBERED = {"final": -1, "newest": -1, "most recent": -1}

# "my third edit", "the 2nd change i made", "edit 6", "whatever i did first", "my last edit"
REQUEST = re.compile(
    rf"^(?:(?:my|the|your)\s+)?(?P<o>{NTH})\s+(?:edit|change|request|thing|step|tweak|"
    rf"modification)(?:\s+(?:that\s+)?(?:i|we|you)\s+(?:made|did|asked\s+for|requested|tried|"
    rf"wanted|asked\s+you\s+(?:for|to\s+do)))?$"
    rf"|^(?:my\s+|the\s+)?(?:edit|change|request)\s+(?:#|no\.?\s*|number\s+)?(?P<n>\d{{1,3}})$"
    rf"|^(?:what(?:ever)?|the\s+(?:thing|edit|change)|the\s+one)\s+(?:that\s+)?(?:i|we)\s+"
    rf"(?:did|made|asked\s+for|changed|edited|tried)\s+(?P<o2>first|last|second|third)$"
    rf"|^(?:my\s+)?(?P<o3>first|last|latest|final|most\s+recent)\s+(?:one|attempt)$",
    re.IGNORECASE)
# "the 4th version", "version 2", "the newest one", "the most recent image"
MADE = re.compile(
    rf"^(?:the\s+)?(?P<o>{NTH})\s+(?:version|one|result|state|variant)"
    rf"(?:\s+(?:you|we)\s+made)?$|^(?:the\s+)?version\s+(?:#|no\.?\s*|number\s+)?(?P<n>\d{{1,3}})$"
    rf"|^(?:the\s+)?(?P<o2>latest|newest|most\s+recent|last)$",
    re.IGNORECASE)
BEFORE_LAST = re.compile(
    r"^(?:the\s+)?(?:penultimate|second[\s-]+(?:to[\s-]+)?last|next[\s-]+to[\s-]+last|"
    r"last\s+but\s+one)(?:\s+(?:one|version|image|picture|edit))?$"
    r"|^(?:the\s+)?(?:one|version|image|picture)\s+before\s+(?:the\s+)?(?:last|latest|newest|"
    r"most\s+recent)(?:\s+(?:one|version|image|picture|edit))?$", re.IGNORECASE)
CAME_FROM = re.compile(
    r"^(?:where|what)\s+(?:i|we)\s+(?:was|were|had|came\s+from|left\s+off|just\s+was)"
    r"(?:\s+(?:before|just\s+now|a\s+moment\s+ago))?$|^(?:the\s+)?(?:one|version|image)\s+"
    r"(?:i|we)\s+(?:was|were)\s+(?:on|at|looking\s+at)(?:\s+before)?$", re.IGNORECASE)

# Chat spellings: dropped apostrophes, common slips, "2" for "to".
SPELLING = {"bakc": "back", "bak": "back", "teh": "the", "hte": "the", "tke": "take",
             "taek": "take", "hes": "he's", "shes": "she's", "wasnt": "wasn't", "isnt": "isn't",
             "didnt": "didn't", "dont": "don't", "cant": "can't", "wont": "won't", "id": "i'd",
             "im": "i'm", "ive": "i've", "thats": "that's", "whats": "what's", "u": "you",
             "ur": "your", "pls": "please", "plz": "please", "verison": "version",
             "versoin": "version", "orignal": "original", "origional": "original",
             "beggining": "beginning", "begining": "beginning", "befor": "before",
             "beofre": "before", "wheres": "where's", "brnach": "branch", "branh": "branch", "prev": "previous",
             "undoo": "undo", "latets": "latest", "lastest": "latest", "wanna": "want to"}


def respell(text: str) -> str:
    """Chat spellings as words ("go bakc 2 before the frisby" -> "go back to before ...")."""
    out = re.sub(r"\b2\s+(?=(?:before|the|my|when|where|how|what|start|beginning|original)\b)",
                 "to ", text, flags=re.IGNORECASE)
    out = re.sub(r"[A-Za-z]+", lambda m: SPELLING.get(m.group(0).lower(), m.group(0)), out)
    out = spelling.correct(out)  # other slips of the fingers: "befroe", "rian"
    out = re.sub(r"\bvery\s+(?=(?:first|last|latest|newest|beginning|start)\b)", "", out,
                 flags=re.IGNORECASE)  # "my very first edit"
    out = re.sub(r"\ba\s+single\b", "one", out, flags=re.IGNORECASE)  # "back a single image"
    out = re.sub(r"\bwhat\s+(my\s+\w+\s+(?:edit|change|request))\s+(?:made|did|gave|produced)\b",
                 r"\1", out, flags=re.IGNORECASE)  # "take me to what my 3rd edit made"
    out = re.sub(r"[,?]?\s*\bif\s+(?:that'?s|it'?s|that\s+is|it\s+is)\s+(?:ok(?:ay)?|alright|all\s+right|"
                 r"fine|possible|not\s+(?:too\s+much\s+)?(?:trouble|a\s+problem|too\s+much))\b[?.!]*",
                 "", out, flags=re.IGNORECASE)  # politeness: "..., if that's ok"
    out = re.sub(r"\b(back|forward|ahead)\s+(one|\d{1,2}|two|three)\s+(?:image|picture|photo|pic)s?\b",
                 r"\1 \2 version", out, flags=re.IGNORECASE)
    out = re.sub(r"\bthe\s+one\s+after\s+(?:this|that|it|this one)\b", "the next one", out,
                 flags=re.IGNORECASE)
    out = re.sub(r"^(?:whichever|whatever)\s+(?:one\s+)?is\s+(?=the\b)", "", out, flags=re.IGNORECASE)
    return _NUMBERED_WORD.sub(lambda m: f"{m.group(1)} {_NUMBER_WORDS[m.group(2).lower()]}", out)


_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"])}
# "version number four", "edit nine": a number said in words after what it counts
_NUMBERED_WORD = re.compile(r"\b(version|edit|change|request|image|step)\s+(?:number\s+|no\.?\s*"
                            rf"|#)?({'|'.join(_NUMBER_WORDS)})\b", re.IGNORECASE)

# A move to what another clause names: "take me there", "go to that one", "i'd like that one"
POINTING = re.compile(
    r"^(?:(?:take|bring|get)\s+(?:me|us)\s+(?:back\s+)?(?:there|to\s+(?:it|that|this|that\s+one|"
    r"this\s+one|them))|(?:go|jump|switch|move|head|return)\s+(?:back\s+)?(?:there|to\s+(?:it|that|"
    r"this|that\s+one|this\s+one|them))|(?:i'?d|i\s+would|we'?d)\s+(?:like|prefer|love|want)\s+"
    r"(?:that|this|it)(?:\s+one)?(?:\s+back)?|(?:i\s+)?want\s+(?:that|this)\s+one(?:\s+back)?|"
    r"(?:show|give)\s+(?:me|us)\s+(?:that|it|that\s+one|this\s+one)|(?:that|this)\s+one|"
    r"(?:let'?s\s+)?go\s+(?:back\s+)?there|use\s+(?:that|it|that\s+one)|"
    r"(?:can|could)\s+(?:we|you|i)\s+(?:go\s+)?(?:back\s+)?to\s+(?:that|it|that\s+one))$",
    re.IGNORECASE)

WHOLE = re.compile(r"^(?:undo|revert|scrap|scratch|cancel|discard|reverse|ditch|bin|drop|nah|no|"
                    r"nope|oops)\b",
                    re.IGNORECASE)
AGAIN = re.compile(r"^(?:and\s+)?(?:(?:do\s+(?:that|it)|that)\s+)?(?:again|once\s+more|one\s+more(?:\s+time)?"
                    r"|(?:undo|back|go\s+back|step\s+back)\s+(?:once\s+more|one\s+more(?:\s+time)?|"
                    r"again)|one\s+more\s+(?:step\s+)?back|back\s+(?:one\s+)?more|further\s+back|"
                    r"(?:go\s+)?back\s+further|keep\s+going(?:\s+back)?|more)$", re.IGNORECASE)


_REPEAT = re.compile(r"^\s*(undo|go back|back|step back|forward|redo)(?:\s*[,;.!]*\s*\1\b)+[\s.!]*$",
                     re.IGNORECASE)


def repeated(text: str) -> str:
    """"undo, undo" -> "undo 2 times": a move said again is a move made again."""
    m = _REPEAT.match(text or "")
    if not m:
        return text
    n = len(re.findall(rf"\b{re.escape(m.group(1))}\b", text, re.IGNORECASE))
    return f"{m.group(1)} {n} times"
