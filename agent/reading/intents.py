"""Reading what a chat message asks for, with rules (no model needed).

parse_intent(text, n_files, has_image) -> Intent. The order of the checks matters:
requests to delete things are answered before anything else (user text is data:
the chat has no way to delete), then uploads, navigation (undo / redo / rollback /
branch), history, settings, generation, questions; everything else is an edit.
The verbs and question words are word lists of prompts/vocabulary.yaml. Settings named
in a message ("use 15 steps", "... with 20 steps") and "continue" are read here too.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from typing import Literal

from agent import ops
from agent.prompts import alternation, vocabulary
from agent.reading import meaning, phrasing
from agent.reading.cleaning import clean_request
from agent.reading.references import Target
from agent.reading.references import read as read_navigation
from editing_core.presets import PRESETS

IntentKind = Literal[
    "empty", "refuse", "upload", "generate", "edit", "undo", "redo", "goto", "branch", "again",
    "history", "setting", "question", "help", "chat",
]

ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
            "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "last": -1, "latest": -1,
            "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
# The editing core's preset names, plus the ways people write them.
PRESET_ALIASES = {"fire flow": "fireflow", "rf-solver": "rf_solver", "rf solver": "rf_solver",
                  "rfsolver": "rf_solver", "rf-inversion": "rf_inversion",
                  "rf inversion": "rf_inversion", "euler": "rf", "reflow": "rf",
                  "multi-turn": "mtc", "multi turn": "mtc"}
PRESET_NAMES = {**{name: name for name in PRESETS},
                **{alias: name for alias, name in PRESET_ALIASES.items() if name in PRESETS}}


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    text: str  # the request with politeness and punctuation stripped
    target: Target | None = None  # goto / branch
    count: int = 1  # undo / redo
    settings: dict = field(default_factory=dict)  # setting
    caption: str = ""  # upload / generate: the description
    instruction: str = ""  # upload: an edit asked for with the upload
    base: int = 0  # upload: index of the base image among the files
    then: str = ""  # undo / goto / branch: an edit to run afterwards ("... and try a scarf")
    # The edit this message carries (the request of an edit, `then`, or an upload's
    # `instruction`) without the settings given for it alone, and those settings
    # ("make the car red with 20 steps" -> "make the car red", {"steps": 20}).
    edit: str = ""
    once: dict = field(default_factory=dict)
    # How sure the reading is (0..1): rules that match exactly are sure; "everything
    # else is an edit" is not, when the message sounds like a move (agent/chat/doubt.py
    # asks below its margin).
    confidence: float = 1.0
    whole: bool = False  # undo: whole requests (Nav.whole)


def _num(word: str) -> int | None:
    word = word.lower().lstrip("#")
    if word.isdigit():
        return int(word)
    return ORDINALS.get(word)


_DELETE = re.compile(
    r"\b(?:delete|erase|wipe|purge|clear|drop|destroy|remove|forget|rm)\b.{0,40}\b(?:history|"
    r"conversations?|chats?|database|db|messages?|records?|lineage|versions|everything|all data|"
    r"files?|folders?|dir(?:ectory|ectories)?|disk|tables?)\b"
    # ... as the thing itself, not a word before a noun ("remove the record player")
    r"(?=\s*$|\s*[,.;:!?]|\s+(?:and|or|of|from|in|on|at|for|with|please|now|too|forever)\b)"
    r"|\brm\s+-rf\b|\bdrop\s+table\b",
    re.IGNORECASE,
)
_HISTORY = re.compile(r"^(?:show|list|print|display|give)?\s*(?:me\s+)?(?:the\s+|my\s+)?"
                      r"(?:history|lineage|versions|edits|timeline|tree|branches|log)"
                      r"(?:\s+so far)?$|^what (?:have we|did we|did you) (?:done|do|change)"
                      r"(?: so far)?$|^history$", re.IGNORECASE)
_CHAT = re.compile(r"^(?:thanks?(?: you)?(?: (?:so|very) much)?|thx|ty|great|nice|cool|ok(?:ay)?|"
                   r"perfect|awesome|amazing|wow|good|lovely|beautiful|love it|i love it|"
                   r"looks? (?:good|great|nice|perfect)|that'?s (?:good|great|nice|perfect|it)|"
                   r"hi|hello|hey|yes|yep|sure|fine|good job|well done|👍)$", re.IGNORECASE)


def asks_to_delete(text: str) -> bool:
    """"delete all history", "rm -rf the data folder": answered as a refusal to delete."""
    return _DELETE.search(" ".join((text or "").split())) is not None


def _is_chat(text: str) -> bool:
    """Thanks, praise, greetings: every part of the message is one ("thanks, looks great!")."""
    parts = [p.strip() for p in re.split(r"[,!.;]+|\s+and\s+", text.lower()) if p.strip()]
    return bool(parts) and all(_CHAT.match(p) or _CHAT.match(re.sub(r"\s+(?:thanks|thank you)$",
                                                                    "", p)) for p in parts)
_HELP = re.compile(r"^(?:help|\?|what can you do|how does this work|how do i use this|"
                   r"what do you do|commands)$", re.IGNORECASE)
_GENERATE = re.compile(
    r"^(?:(?:generate|create|draw|paint|render|imagine|make)\s+(?:me\s+)?(?:a\s+new\s+|an?\s+)?"
    r"(?:new\s+)?(?:image|picture|photo|drawing|painting|illustration)\s+(?:of|showing|with)\s+"
    r"|(?:generate|imagine|render)\s+(?:me\s+)?|(?:new image|start from(?: a)?(?: text)?"
    r"(?: prompt)?|prompt)\s*:\s*)(?P<p>.+)$", re.IGNORECASE)
_SUBTLER = re.compile(r"^(?:be|go|edit|change (?:it|things)|make (?:the )?(?:edits?|changes?))\s+"
                      r"(?:a (?:bit|little|lot)\s+|much\s+|even\s+)?(?P<w>subtler|more subtle|"
                      r"gentler|more gentle|softer|more conservative|less aggressive|bolder|"
                      r"stronger|more aggressive|more daring|more drastic)(?:\s+(?:please|now))?$"
                      r"|^(?P<w2>subtler|bolder|less aggressive|more aggressive) (?:edits?|changes?)"
                      r"(?:,? please)?$|^(?:that was|this is|it's|that's) (?P<w3>too (?:much|strong|"
                      r"weak|subtle|little))$", re.IGNORECASE)
_DESCRIBES = re.compile(r"^(?:this is|here is|here's|it is|it's|these are|this shows|it shows|"
                        r"the image shows|a picture of me|caption:)\s*", re.IGNORECASE)


def parse_setting(text: str) -> dict:
    """Setting changes named in the text ("use 15 steps", "guidance 4", "use rf_solver")."""
    low = text.lower()
    found: dict = {}
    m = re.search(r"\b(\d{1,3})\s+(?:sampling\s+|solver\s+|denoising\s+)?steps?\b", low) or \
        re.search(r"\bsteps?\s*(?:to|=|:|of)?\s*(\d{1,3})\b", low)
    if m:
        found["steps"] = int(m.group(1))
    for key, names in (("guidance", r"guidance(?:\s+scale)?|cfg"), ("eta", r"eta"),
                       ("lam", r"lambda|lam"), ("stop", r"stop"), ("seed", r"seed"),
                       ("inject", r"inject(?:ion)?(?:\s+steps)?"),
                       ("strength", r"strength")):
        m = re.search(rf"\b(?:{names})\s*(?:to|=|:|of|at)?\s*(-?\d+(?:\.\d+)?)\b", low) or \
            re.search(rf"\b(-?\d+(?:\.\d+)?)\s+(?:{names})\b", low)
        if m:
            raw = m.group(1)  # whole numbers stay exact (a 64-bit seed does not fit a float)
            found[key] = (int(raw) if "." not in raw else int(float(raw))) \
                if key in ("seed", "inject") else float(raw)
    m = re.search(r"\b(?:turn|switch|set)?\s*(?:the\s+)?(?:attention\s+)?highlight(?:ing)?\s*"
                  r"(?:to\s+)?(on|off)\b|\b(?:turn|switch)\s+(on|off)\s+(?:the\s+)?(?:attention\s+)?"
                  r"highlight(?:ing)?\b|\b(no|without|disable|enable|with)\s+(?:attention\s+)?"
                  r"highlight(?:ing)?\b", low)
    if m:
        word = next(g for g in m.groups() if g)
        found["highlight"] = word in ("on", "enable", "with")
    names = "|".join(re.escape(n) for n in sorted(PRESET_NAMES, key=len, reverse=True))
    m = re.search(rf"\b(?:use|using|switch to|try|with|set (?:the )?(?:preset|solver|method) to)\s+"
                  rf"(?:the\s+)?({names})\b(?:\s+(?:preset|solver|method))?", low) or \
        re.search(rf"\b(?:preset|solver|method)\s*(?:to|=|:)?\s*({names})\b", low)
    if m:
        found["preset"] = PRESET_NAMES[m.group(1)]
    return found


def is_setting_only(text: str, found: dict) -> bool:
    """True when the message is about settings, not an edit that mentions a number."""
    low = text.lower()
    if _editish().match(low) and not re.match(r"^(?:use|set|change|switch|turn)\b", low):
        return False
    rest = re.sub(r"\b(?:use|set|change|switch|turn|try|please|to|the|with|and|a|an|of|on|off|"
                  r"preset|solver|method|steps?|sampling|guidance|scale|cfg|eta|lambda|lam|stop|"
                  r"seed|inject(?:ion)?|strength|highlight(?:ing)?|attention|no|without|disable|"
                  r"enable|instead|now|from now on|for|edits?|next|=|:|\d+(?:\.\d+)?|[,.;])\b", " ", low)
    for name in PRESET_NAMES:
        rest = rest.replace(name, " ")
    return bool(found) and len(rest.split()) <= 2


def one_off_settings(request: str) -> tuple[str, dict]:
    """'make the car red with 20 steps' -> ('make the car red', {'steps': 20}) for one edit."""
    names = "|".join(re.escape(n) for n in sorted(PRESET_NAMES, key=len, reverse=True))
    m = re.search(r"[,;]?\s+(?:with|using|at|in|and use|use)\s+(?P<s>[^,;]*?\b(?:steps?|guidance|"
                  rf"cfg|seed|eta|lambda|stop|inject(?:ion)?|preset|solver|{names})\b[^,;]*)$",
                  request, re.IGNORECASE)
    if not m:
        return request, {}
    found = parse_setting(m.group(0).strip(" ,;"))
    found.pop("strength", None)
    if not found or not is_setting_only(m.group(0).strip(" ,;"), found):
        return request, {}
    return request[: m.start()].strip(), found


# Words of a move that the rules may have read as an edit or a question; with an LLM
# configured, such a message is read again by it (agent/chat/dispatch.py).
_NAV_HINT = re.compile(r"\b(?:before|back|earlier|previous|undo|revert|history|branch|version|"
                       r"turn|original|liked|prefer|preferred|again|redo|ago|nicer|better)\b",
                       re.IGNORECASE)


def sounds_like_navigation(text: str) -> bool:
    return _NAV_HINT.search(text) is not None


def _edit_confidence(text: str, clean: str) -> float:
    """How sure "it is an edit" is: a message an edit verb begins is one; one that sounds
    like a move (its words, or its nearest labelled examples: agent/reading/meaning.py)
    is not."""
    if _editish().match(clean.lower()) or _exact_operation(clean):
        return 0.9
    if _MOVE_CUE.search(text) or sounds_like_navigation(text):
        return 0.3
    reading = meaning.intent(clean)
    if reading is not None and reading.kind in ("move", "question") and reading.confidence >= 0.1:
        return 0.35
    return 0.8


def _exact_operation(text: str) -> bool:
    try:
        return ops.parse_request(text) is not None
    except ValueError:  # an operation with a number out of range: still an operation
        return True


def starts_with_edit_verb(text: str) -> bool:
    """"make ...", "can you add ...": a message an edit verb begins."""
    return _editish().match(clean_request(text).lower()) is not None


def from_choice(intent: Intent, choice) -> Intent:
    """The intent an LLM's reading (an IntentChoice: intent, words, turn) names; the rules'
    own reading when the LLM says edit or question, or answered nothing usable."""
    if choice is None or choice.intent in ("edit", "question"):
        return intent
    kinds = {"undo": "undo", "redo": "redo", "branch": "branch", "history": "history"}
    if choice.intent in kinds:
        target = Target("at", choice.words) if choice.intent == "branch" and choice.words \
            else None
        return Intent(kinds[choice.intent], intent.text, target=target)
    if choice.intent == "turn" and choice.turn is not None:
        return Intent("goto", intent.text, target=Target("turn", number=choice.turn))
    if choice.intent == "original":
        return Intent("goto", intent.text, target=Target("original"))
    if choice.intent in ("before", "at") and choice.words.strip():
        return Intent("goto", intent.text, target=Target(choice.intent, choice.words))
    return intent


# Words that go with moving through the versions more than with changing the picture.
_MOVE_CUE = re.compile(
    r"\b(?:go|get|take|bring|jump|hop|skip|head|switch|return|revert|rewind|restore|show|see|"
    r"view|open|load)\b.*\b(?:to|back|there|it|one|version|branch|edit)\b|\b(?:newest|latest|"
    r"most recent|oldest|first|second|third|fourth|fifth|last|final|penultimate|\d+(?:st|nd|rd|th))"
    r"\s+(?:one|version|edit|image|picture|change|thing)\b|\b(?:start|beginning|upload|original)"
    r"\b|\b(?:the|that|this)\s+one\b|\bforward\b|\bonce more\b|\bstep\b",
    re.IGNORECASE)


# "continue": run the rest of a plan that did not finish (agent/jobs/recovery.py).
# "try again": the result just made, once more with another seed (the button's words)
TRY_AGAIN = re.compile(r"\s*(?:please\s+)?(?:(?:can you |could you )?try (?:it |that |this )?again|"
                       r"(?:give it |have )?(?:another|one more) (?:try|go|shot)|re-?roll(?: it)?|"
                       r"retry|again with (?:a |another |a different )?seed)"
                       r"(?:,?\s+please)?[.!?]*\s*", re.IGNORECASE)

RESUME = re.compile(r"\s*(?:please\s+)?(?:continue|resume|go on|carry on|finish it|"
                    r"run the rest|finish the rest|do the rest)(?:\s+please)?[.!]?\s*",
                    re.IGNORECASE)


@functools.cache
def _verbs(name: str) -> str:
    return alternation(vocabulary()[name])


@functools.cache
def _editish() -> re.Pattern:
    """A message that starts with an edit verb ("make ...", "can you add ...")."""
    return re.compile(rf"^(?:(?:can|could|would|will) you\s+)?(?:please\s+)?"
                      rf"(?:{_verbs('message_verbs')})\b", re.IGNORECASE)


@functools.cache
def _asks_edit() -> re.Pattern:
    """An edit asked as a wish or a question: "is it possible to add a hat?", "how about
    a red scarf?"."""
    return re.compile(
        rf"^(?:(?:is it possible|would it be possible|can (?:i|we)|could (?:i|we)|"
        rf"i(?:'d| would) like|i want|please)\s+(?:to\s+)?(?:have you\s+)?"
        rf"(?P<req>(?:{_verbs('asked_verbs')})\b.+)|(?:how|what) about\s+"
        rf"(?P<thing>(?:a|an|some)\s+.+))$", re.IGNORECASE)


@functools.cache
def _question() -> re.Pattern:
    return re.compile(rf"^(?:{_verbs('question_words')})\b", re.IGNORECASE)


@functools.cache
def _then() -> re.Pattern:
    """A move and then an edit: "go back to before the hat and try a scarf"."""
    return re.compile(rf"^(?P<nav>.+?)\s*(?:,\s*|\s+)(?:and\s+(?:then\s+)?|then\s+)"
                      rf"(?P<edit>(?:{_verbs('then_verbs')})\b.+)$", re.IGNORECASE)


def parse_intent(text: str, n_files: int = 0, has_image: bool = False) -> Intent:
    """What the message asks for (see the module docstring for the order of the checks),
    with the edit it carries and that edit's own settings."""
    intent = _read(text, n_files, has_image)
    if intent.kind == "edit" and has_image:
        intent = replace(intent, confidence=_edit_confidence(text, intent.text))
    carried = intent.text if intent.kind == "edit" else intent.then or intent.instruction
    if not carried:
        return intent
    request, once = one_off_settings(carried)
    return replace(intent, edit=request, once=once)


def _read(text: str, n_files: int, has_image: bool) -> Intent:
    raw = " ".join((text or "").split())
    clean = clean_request(raw)
    m = _then().match(clean)
    if m and not n_files and not _DELETE.search(raw):
        first = _read(m.group("nav"), 0, has_image)
        if first.kind in ("undo", "goto", "branch"):
            return Intent(first.kind, first.text, target=first.target, count=first.count,
                          then=m.group("edit"), whole=first.whole)
    low = clean.lower()

    if _DELETE.search(raw):
        return Intent("refuse", clean)
    if n_files:
        return _upload_intent(clean, n_files)
    if not clean:
        return Intent("empty", clean)
    if _HELP.match(low):
        return Intent("help", clean)
    if _is_chat(raw):
        return Intent("chat", clean)

    if _HISTORY.match(low):
        return Intent("history", clean)
    nav = read_navigation(phrasing.repeated(raw))
    if nav is not None:
        return Intent(nav.kind, clean, target=nav.target, count=nav.count, whole=nav.whole)

    m = _SUBTLER.match(low)
    if m:
        w = (m.group("w") or m.group("w2") or m.group("w3") or "").lower()
        softer = any(k in w for k in ("subtle", "gentle", "softer", "conservative", "less aggr",
                                      "too much", "too strong"))
        return Intent("setting", clean, settings={"strength_delta": -0.2 if softer else 0.2})
    found = parse_setting(clean)
    if found and is_setting_only(clean, found):
        return Intent("setting", clean, settings=found)

    m = _GENERATE.match(clean)
    if m:
        return Intent("generate", clean, caption=m.group("p").strip())
    m = _asks_edit().match(low)
    if m:  # "is it possible to add a hat?", "how about a red scarf?"
        req = m.group("req") or f"add {m.group('thing')}"
        return Intent("edit", clean[len(clean) - len(req):] if m.group("req") else req)
    if (_question().match(low) or raw.rstrip().endswith("?")) and not _editish().match(low):
        return Intent("question", clean)
    if not has_image:
        m = re.match(r"^(?:draw|paint|create|sketch|make)\s+(?:me\s+)?(?P<p>(?:a|an|some)\s.+)$",
                     clean, re.IGNORECASE)
        if m:
            return Intent("generate", clean, caption=m.group("p"))
        if _editish().match(low):
            return Intent("edit", clean)  # the session asks for an image first
        return Intent("generate", clean, caption=clean)
    return Intent("edit", clean)


def _upload_intent(clean: str, n_files: int) -> Intent:
    base = 0
    m = re.search(r"\b(?:use|edit|take|start (?:from|with)|base (?:on|is))\s+(?:the\s+)?"
                  r"(?P<o>first|second|third|fourth|fifth|last)\s*(?:one|image|picture|photo)?"
                  r"(?:\s+as (?:the\s+)?base)?|\b(?:image|picture|photo)\s+#?(?P<n>\d+)\s+as\s+"
                  r"(?:the\s+)?base\b", clean, re.IGNORECASE)
    if m:
        n = _num(m.group("o")) if m.group("o") else int(m.group("n"))
        base = n_files - 1 if n == -1 else min(max(n - 1, 0), n_files - 1)
        clean = (clean[: m.start()] + clean[m.end():]).strip(" ,.;:")
    caption, instruction = [], []
    for sentence in re.split(r"(?<=[.;!?])\s+|\s*;\s*|\.\s*$", clean):
        sentence = sentence.strip(" .;")
        if not sentence:
            continue
        if _editish().match(sentence):
            instruction.append(sentence)
        else:
            caption.append(_DESCRIBES.sub("", sentence).strip())
    return Intent("upload", clean, caption=", ".join(c for c in caption if c),
                  instruction=". ".join(instruction), base=base)
