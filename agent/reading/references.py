"""Reading a move through the lineage from what people write.

read(text) turns a message into a navigation request (or None): questions and hedges
("hmm, can we go back to ...?", "could you undo that"), references by the change
("before you added the dog", "before the snow", "the one where the bench was still
brown", "two edits ago", "the version I uploaded"), by branch content ("the branch
with the umbrella", "the other version"). The edit after "... and make it sunny" is
split off by agent.reading.intents; agent.lineage.navigation finds the node a request means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from agent.reading.phrasing import (
    AGAIN,
    BEFORE_LAST,
    CAME_FROM,
    MADE,
    NUMBERED,
    POINTING,
    REQUEST,
    WHOLE,
    respell,
)
from agent.reading.words import content_words

NavKind = Literal["undo", "redo", "goto", "branch", "again"]


@dataclass(frozen=True)
class Target:
    """Where a move goes.

    how: "before" / "at" a described change, "state" (the version whose caption says the
    words and not `without`; `still`: the last such version before it changed), "turn"
    n of the current branch, "original", "image" n (0: the other image), "other" (the
    other branch), "request" n (the user's n-th edit request, in the order made, across
    branches; -1 the last), "made" n (the n-th image made, the upload first; -1 the
    newest), "before_last" (the image before the newest of the head's branch),
    "came_from" (where the last move started)."""

    how: Literal["before", "at", "state", "turn", "original", "image", "other", "request",
                 "made", "before_last", "came_from"]
    words: str = ""
    number: int = 0
    without: str = ""
    still: bool = False


@dataclass(frozen=True)
class Nav:
    kind: NavKind
    target: Target | None = None  # goto; branch (None: the most recent other branch)
    count: int = 1  # undo
    # undo: take back whole requests ("undo", "scrap that": all the steps a request made),
    # not single images ("back one", "go back")
    whole: bool = False


_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a couple": 2, "couple of": 2,
            "a": 1, "an": 1, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
            "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "last": -1,
            "latest": -1, "once": 1, "twice": 2, "thrice": 3}
_NUM = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|a couple(?: of)?|couple of|an?)"
_ORD = r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|latest)"
_THING = r"(?:version|one|image|picture|pic|photo|state|shot|edit|result|variant|take)"


def _n(word: str) -> int:
    word = " ".join(word.strip().lower().lstrip("#").split())
    m = re.fullmatch(r"(\d+)(?:st|nd|rd|th)?", word)
    if m:
        return int(m.group(1))
    return _NUMBERS.get(word, NUMBERED.get(word, 0))




_FILLER = re.compile(
    r"^(?:(?:hmm+|hm+|um+|uh+|erm*|ok(?:ay)?|so|well|actually|wait|oh|oops|ugh|argh|sorry|no|nope|"
    r"nah|hey|right|yeah|yes|alright|honestly|hmm ok|on second thought|you know what|"
    r"never ?mind|ah|eh|meh|hold on|scratch that)\b[\s,.!;:-]*)+", re.IGNORECASE)
_ASKING = re.compile(
    r"^(?:(?:do|would)\s+you\s+mind\s+|(?:(?:can|could|would|will|shall|should|may|might)\s+(?:we|you|i|u|ya)\s+(?:please\s+|"
    r"maybe\s+|just\s+|possibly\s+)*)|(?:do|would)\s+you\s+mind\s+|(?:do\s+you\s+think\s+(?:we|you)"
    r"\s+(?:could|can)\s+)|(?:is\s+it|would\s+it\s+be)\s+possible\s+to\s+|(?:i|we)(?:'d|\s+would)\s+"
    r"(?:like|love|prefer|rather)\s+(?:to\s+)?|(?:i|we)\s+(?:want|wanna|need)\s+(?:to\s+)?|"
    r"(?:let'?s|let\s+us)\s+|please\s+|pls\s+|maybe\s+|perhaps\s+|just\s+|i\s+think\s+(?:we\s+should"
    r"\s+|i\s+want\s+(?:to\s+)?|i'?d\s+like\s+to\s+)?|i\s+guess\s+|how\s+about\s+|what\s+about\s+|"
    r"we\s+should\s+|you\s+should\s+|time\s+to\s+|better\s+|quickly\s+|kindly\s+|now\s+|then\s+|"
    r"and\s+|but\s+|so\s+|try\s+(?:to\s+)?|go\s+ahead\s+and\s+)+", re.IGNORECASE)
_TAIL = re.compile(r"(?:[\s,]+(?:please|pls|again|instead|for now|if possible|if you can|thanks|"
                   r"thank you|now|then|maybe|i think|ok|okay|real quick|for a sec(?:ond)?|"
                   r"for me|once more))+$", re.IGNORECASE)
_GERUNDS = {"going": "go", "getting": "get", "taking": "take", "bringing": "bring",
            "returning": "return", "reverting": "revert", "rolling": "roll", "switching": "switch",
            "jumping": "jump", "stepping": "step", "undoing": "undo", "restoring": "restore",
            "heading": "head", "moving": "move", "resetting": "reset", "rewinding": "rewind",
            "coming": "come", "showing": "show", "seeing": "see", "using": "use"}

# Verbs that move back to a version ("go back to the red bench" means that version) ...
_TO = (r"(?:(?:go|get|come|head|jump|hop|skip|move|step|switch|swap|flip|roll|take\s+(?:me|us|it|this)|"
       r"bring\s+(?:me|us|it|this)|put\s+(?:me|us|it))\s+back|back|return|revert|roll\s*back|"
       r"rewind|restore|reset|(?:switch|send|move|get|set)\s+(?:me|us|it|this)\s+back|"
       r"(?:change|turn|make)\s+(?:it|this|everything|things)\s+back|switch|swap|"
       r"jump|hop|skip|cross|move|go|get|head|take\s+(?:me|us)|bring\s+(?:me|us))"
       r"(?:\s+(?:back|over|ahead|forward|on))?(?:\s+(?:to|into|onto))?")
# ... and verbs that take a change back ("undo the dog" means the version before it).
_UNDO_VERB = (r"(?:undo|revert|roll\s*back|take\s+back|scrap|cancel|reverse|drop\s+back\s+from|"
              r"get\s+rid\s+of\s+the\s+edit\s+with)")
_SEE = (r"(?:continue\s+on|carry\s+on\s+(?:with|from|on)|keep\s+going\s+on|show\s+(?:me|us)|let\s+me\s+see|(?:can|could|may)\s+i\s+(?:see|have)|see|view|open|"
        r"load|pick|use|choose|select|give\s+me|i\s+(?:want|need|miss|prefer|liked|loved)|"
        r"(?:i|we)(?:'d|\s+would)\s+(?:like|prefer|rather\s+have)|pull\s+up|bring\s+up|"
        r"continue\s+(?:from|with)|(?:re)?start\s+(?:again\s+|over\s+)?from|begin\s+again\s+from|"
        r"(?:have\s+|take\s+)?(?:a\s+)?look\s+at|check\s+out|pick\s+up\s+from|work\s+(?:from|on)|"
        r"edit\s+from|keep)")
_BARE_UNDO = re.compile(
    r"^(?:undo|revert|go back|get back|step back|move back|back|back up|take (?:that|it|this) back|"
    r"one back|back a step|a step back|back by one|scrap (?:that|it|this)|discard (?:that|it|this)|"
    r"(?:scrap|discard|ditch|bin|drop|lose|cancel) (?:the|that|my)? ?(?:last|latest|previous)? ?"
    r"(?:edit|change|step|one|thing|version)|(?:scrap|discard|ditch) (?:it|that)|"
    r"roll ?back|rewind|go back a (?:step|bit)|one step back|step back one|back one|"
    r"go back one(?: step| more)?|back one (?:more|step)|one more back|undo (?:that|this|it|"
    r"the last (?:edit|change|step|one|thing))|revert (?:that|this|it|the last (?:edit|change|"
    r"step|one|thing))|take back (?:that|the last) (?:edit|change|step)|scratch that|"
    r"reverse that|cancel that|undo what you just did|go back to how it was|"
    r"put it back(?: how it was)?|change it back|back to how it was|go back to the way it was|"
    r"i don'?t like (?:that|this|it),? (?:go back|undo(?: it| that)?))$", re.IGNORECASE)
_COUNT = re.compile(
    rf"^(?:(?:(?:go|step|move|jump|roll|get|(?:take|bring|put|set)\s+(?:it|me|us|this))\s+)?"
    rf"back\s+(?:by\s+)?|(?:the\s+)?(?:{_THING}\s+)?"
    rf"(?:from\s+)?)?(?P<n>{_NUM})\s+(?:more\s+)?"
    rf"(?:edits?|steps?|changes?|turns?|versions?|times?|images?|pictures?)\s*(?:ago|back|earlier|"
    rf"before)$|^(?:(?:go|step|move|jump|roll|get|(?:take|bring|put|set)\s+(?:it|me|us|this))\s+)?"
    rf"back\s+(?:by\s+)?(?P<n5>{_NUM})\s+"
    rf"(?:more\s+)?(?:edits?|steps?|changes?|turns?|versions?|times?)$|^(?:undo|revert|roll ?back)\s+(?:the\s+)?(?:last\s+)?(?P<n2>{_NUM})\s+"
    rf"(?:edits?|steps?|changes?|turns?|times?)$|^(?:go|step|move|jump)\s+back\s+(?P<n3>{_NUM})"
    rf"(?:\s+(?:edits?|steps?|changes?|turns?|versions?|times?))?$|^(?:undo|back)\s+(?P<n4>{_NUM})"
    rf"(?:\s+times?)?$|^(?:undo|back|go\s+back|step\s+back)\s+(?P<n6>twice|thrice|once)$",
    re.IGNORECASE)
_PREVIOUS = re.compile(
    rf"^(?:the\s+)?(?:previous|prior|last|earlier)\s+{_THING}$|^(?:the\s+)?{_THING}\s+(?:right\s+|"
    rf"just\s+)?before\s+(?:this|that|the current one|now|the last (?:edit|change|one)|"
    rf"this one|that one|it)$|^where\s+(?:we|i)\s+(?:were|was)(?:\s+a\s+(?:step|moment)\s+ago)?$",
    re.IGNORECASE)
_REDO = re.compile(r"^(?:redo|re-do|redo (?:that|it|the last (?:edit|change|step|one))|go forward|"
                   r"(?:go to |show me |jump to )?(?:the )?next(?: one| version| image| step)?|"
                   r"forwards?(?: one| a step)?|one (?:step )?forward|step forwards?|"
                   r"step forward|move forward|forward|undo (?:the|that|my|your) undo|"
                   r"go forward again|forward again|(?:go|jump) ahead|put it back the way you had it)$",
                   re.IGNORECASE)
_ORIGINAL = re.compile(
    rf"^(?:the\s+)?(?:very\s+)?(?:raw\s+|plain\s+|initial\s+)?(?:original|beginning|start|unedited|untouched|first|upload|initial)"
    rf"(?:\s+(?:one|image|picture|pic|photo|version|upload|state))?$|^(?:the\s+)?(?:very\s+)?"
    rf"(?:first|original)\s+{_THING}$|^(?:the\s+)?{_THING}\s+(?:that\s+)?(?:i|we)\s+(?:uploaded|"
    rf"started\s+(?:with|from)|sent(?:\s+you)?|gave\s+you|began\s+with|had\s+at\s+first)$|"
    rf"^(?:my|the)\s+(?:upload|uploaded\s+(?:one|image|picture|photo|version)|original)$|"
    rf"^(?:how|what)\s+it\s+(?:was|looked)(?:\s+like)?\s+(?:at\s+(?:the\s+)?(?:first|start|"
    rf"beginning)|originally|in\s+the\s+beginning|before\s+(?:any|all)\s+(?:the\s+)?(?:edits|"
    rf"changes))$|^(?:where|how)\s+(?:we|it)\s+started$|^square\s+one$|^scratch$|^zero$|"
    rf"^(?:the\s+)?(?:version|one|image)\s+before\s+(?:any|all)\s+(?:the\s+)?(?:edits|changes)$",
    re.IGNORECASE)
_IMAGE = re.compile(r"^(?:the\s+)?(?:(?P<o>first|second|third|fourth|fifth|last|other)\s+"
                    r"(?:image|picture|photo|upload|pic)|(?:image|picture|photo|upload)\s+#?"
                    r"(?P<n>\d+))(?:\s+as (?:the )?base)?$", re.IGNORECASE)
_TURN = re.compile(
    rf"^(?:the\s+)?(?:turn|step|version|edit|node|number|no\.?|#)\s*#?(?P<n>\d+|{_ORD})$|"
    rf"^#(?P<n2>\d+)$|^(?:the\s+)?(?P<n3>{_ORD})\s+(?:turn|step|version|edit)$|"
    rf"^(?:the\s+)?(?:{_THING}\s+)?(?:right\s+|just\s+)?after\s+(?:the\s+|my\s+|your\s+)?"
    rf"(?P<n4>{_ORD})\s+(?:edit|change|step|turn)$", re.IGNORECASE)
_OTHER = re.compile(rf"^(?:the\s+)?(?:other|another|different|alternative|alternate)\s+"
                    rf"(?:branch|{_THING}|path|line|attempt|try|direction)$", re.IGNORECASE)
_NEXT_BRANCH = re.compile(r"^(?:the\s+)?(?:next|previous)\s+branch$|^branch(?:es)?$",
                          re.IGNORECASE)
_BRANCH = re.compile(r"^(?:the\s+)?(?:branch|path|line|version\s+branch)\s+(?:with|where|that\s+"
                     r"has|that\s+had|having|in\s+which|which\s+has|showing|when)\s+(?P<w>.+)$|"
                     r"^(?:the\s+)?(?P<w2>.+?)\s+branch$", re.IGNORECASE)
_PRONOUN = re.compile(r"^(?:it|that|this|that one|this one|there|then|that version|"
                      r"the one|them)$", re.IGNORECASE)
_BEFORE = re.compile(
    rf"^(?:(?:the\s+)?{_THING}\s+|(?:how|what|where)\s+(?:it|we|things|the image|the picture)"
    rf"\s+(?:was|were|looked|stood)(?:\s+like)?\s+|(?:the\s+)?(?:state|point)\s+|(?:it|things|"
    rf"everything|the\s+image|the\s+picture)\s+)?(?:from\s+|of\s+)?"
    rf"(?:right\s+|just\s+|shortly\s+|back\s+|way\s+)?(?:before|prior\s+to|until|till|ahead\s+of)"
    rf"\s+(?P<w>.+)$", re.IGNORECASE)
_AFTER = re.compile(rf"^(?:(?:the\s+)?{_THING}\s+)?(?:from\s+)?(?:right\s+|just\s+)?(?:after|"
                    rf"since|once)\s+(?P<w>.+)$", re.IGNORECASE)
_WITHOUT = re.compile(rf"^(?:(?:the\s+)?{_THING}\s+)?(?:without|with\s+no|w/o|minus|"
                      rf"before\s+there\s+was|that\s+(?:has|had)\s+no|that\s+didn'?t\s+have|"
                      rf"with\s+none\s+of)\s+(?P<w>.+)$", re.IGNORECASE)
_WITH = re.compile(
    rf"^(?:the\s+)?(?:{_THING}|branch)\s+(?:with|where|when|that\s+(?:has|had|still\s+had|"
    rf"showed|shows)|having|showing|in\s+which|which\s+(?:has|had)|in\s+which|featuring|"
    rf"from\s+when|from\s+where|of)\s+(?P<w>.+)$|^(?:to\s+)?(?:when|where|the\s+point\s+where|"
    rf"the\s+time\s+when)\s+(?P<w2>.+)$|^with\s+(?P<w3>.+)$", re.IGNORECASE)
# "the stormy one but before the big waves", "the film one but not faded yet"
_NAMED_BUT = re.compile(rf"^(?:the\s+|that\s+)?(?P<w>.+?)\s+(?:{_THING}|picture|image)\s*,?\s+"
                        r"(?P<rest>(?:but|and|yet|before|without|with|where|still)\b.+)$",
                        re.IGNORECASE)
_NAMED = re.compile(rf"^(?:the\s+|that\s+|this\s+)?(?P<w>.+?)\s+(?:{_THING}|picture|image)$",
                    re.IGNORECASE)
_PREFER = re.compile(
    r"^(?:i\s+)?(?:(?:really\s+|actually\s+)?(?:liked|loved|preferred|prefer|like|love|miss|"
    r"missed|want(?:ed)?|need)|(?:i|we)(?:'d|\s+would)\s+(?:prefer|like|rather\s+have|love))\s+"
    r"(?:it|things|the image|the picture|the photo|how it was)?\s*(?:much\s+|way\s+|a\s+lot\s+)?"
    r"(?:better\s+|more\s+)?(?:as\s+it\s+was\s+)?(?P<ref>.+?)(?:\s+(?:better|more|again|instead|"
    r"back))?$", re.IGNORECASE)
_JUDGED = re.compile(
    r"^it\s+(?:was|looked|seemed)\s+(?:so\s+|much\s+|way\s+)?(?:better|nicer|prettier)\s+"
    r"(?P<ref2>.+)$|^(?P<ref>.+?)\s+(?:was|looked|is|looks|seemed|felt)\s+(?:so\s+|much\s+|"
    r"way\s+|a\s+lot\s+|actually\s+|honestly\s+)?(?:better|nicer|best|prettier|cooler|good|"
    r"great|fine|perfect|preferable)(?:\s+.*)?$", re.IGNORECASE)



def _tidy(text: str) -> str:
    text = " ".join(respell(text.replace("’", "'")).split())
    text = re.sub(r"\ball the way\s+(?=back|to)", "", text, flags=re.IGNORECASE)
    text = re.sub(r"[\"“”]", "", text)
    text = text.strip(" ?!.,;:")
    prev = None
    while prev != text:
        prev = text
        text = _FILLER.sub("", text).strip(" ,.;:")
        text = _ASKING.sub("", text).strip(" ,.;:")
        text = _TAIL.sub("", text).strip(" ,.;:?!")
    words = text.split()
    if words and words[0].lower() in _GERUNDS:
        words[0] = _GERUNDS[words[0].lower()]
    return " ".join(words)


def _ref(text: str, *, marked: bool) -> Target | Nav | str | None:
    """The version a phrase names; "pronoun" for "it" / "that"; None when it names none.

    marked=False lets a bare description ("the red bench") name a version, for phrases
    after a verb that moves ("go back to the red bench")."""
    r = re.sub(r"^(?:to|at|on|into)\s+", "", text.strip(" ,.;:?!")).strip()
    r = re.sub(r"\s+(?:again|instead|once more|back|please)$", "", r, flags=re.IGNORECASE)
    if not r:
        return None
    low = r.lower()
    if _PRONOUN.match(low):
        return "pronoun"
    m = REQUEST.match(low)
    if m:
        word = next(g for g in m.groups() if g)
        n = -1 if word.lower() in ("last", "latest", "final", "most recent") else _n(word)
        return Target("request", number=n)
    if BEFORE_LAST.match(low):
        return Target("before_last")
    if CAME_FROM.match(low):
        return Target("came_from")
    m = MADE.match(low)
    if m and not re.match(r"^(?:the\s+)?(?:last|latest)\s+(?:turn|step)$", low):
        word = next(g for g in m.groups() if g)
        n = -1 if word.lower() in ("last", "latest", "newest", "most recent", "final") else _n(word)
        return Target("made", number=n)
    m = _IMAGE.match(low)
    if m:
        o = m.group("o")
        k = 0 if o == "other" else (_n(o) if o else int(m.group("n")))
        return Target("image", number=k)
    if _ORIGINAL.match(low):
        return Target("original")
    m = _TURN.match(low)
    if m:
        word = next(g for g in m.groups() if g)
        return Target("turn", number=_n(word))
    m = _COUNT.match(low)
    if m:
        return Nav("undo", count=max(1, _n(next(g for g in m.groups() if g))))
    if _PREVIOUS.match(low):
        return Nav("undo")
    if _OTHER.match(low):
        return Nav("branch", Target("other"))
    if _NEXT_BRANCH.match(low):
        return Nav("branch")
    m = _BRANCH.match(low)
    if m and not (m.group("w2") and re.search(r"\b(?:other|another|different)\b", low)):
        return Nav("branch", _with(m.group("w") or m.group("w2"), "at"))
    m = _WITHOUT.match(low)
    if m:
        return Target("state", without=_words(m.group("w")))
    m = _BEFORE.match(low)
    if m:
        return _with(m.group("w"), "before")
    m = _AFTER.match(low)
    if m:
        return _with(m.group("w"), "at")
    m = _WITH.match(low)
    if m:
        return _with(m.group("w") or m.group("w2") or m.group("w3"), "at")
    m = _NAMED_BUT.match(low)
    if m:
        return _with(f"{m.group('w')} {m.group('rest')}", "at")
    m = _NAMED.match(low)
    if m and not re.match(r"^(?:this|current|same|new|next|last|latest|previous|whole|entire)$",
                          m.group("w")):
        return _with(m.group("w"), "at")
    if not marked and _words(low):
        return _with(low, "at")
    return None


def _with(phrase: str, how: str) -> Target:
    """'the bench was still brown' -> state bench brown (still); 'the dog but no snow' ->
    state dog without snow; 'the dog' -> `how` dog."""
    low = phrase.lower().strip()
    without = ""
    m = re.search(r"\s*(?:,\s*)?\b(?:before\s+(?:it|he|she|they|there|you)\s+(?:got|was|were|became|"
                  r"had|went|turned|added|made|gave|put)|(?<=,\s)before|(?<=,)before|(?<=\w\s)before|"
                  r"(?:but|and|yet)\s+(?:with\s+)?(?:it\s+|he\s+|she\s+|there\s+)?"
                  r"(?:no|not|without|before(?:\s+the)?|(?:was|is|had|has|did|were)\s*n[o']?t|"
                  r"(?:wasn|isn|hadn|hasn|didn|weren)'?t)|without|with\s+no)\s+(?:any\s+)?(?:yet\s+)?"
                  r"(?P<neg>.+)$", low)
    if m:
        neg = re.sub(r"\s+(?:got|get|was|were|became|turned|appeared|came|went|showed)\b.*$", "",
                     m.group("neg"))
        without, low = _words(neg), low[: m.start()]
    still = bool(re.search(r"\b(?:still|yet|remained|stayed)\b", low))
    words = _words(low)
    if still or without:
        return Target("state", words, without=without, still=still)
    return Target(how, words)


def _words(phrase: str) -> str:
    return " ".join(content_words(phrase))


def read(text: str) -> Nav | None:
    """The navigation a message asks for, or None when it asks for something else."""
    clauses = [c for c in re.split(r"\s*[,;.!?]+\s*|\s+(?:so|and then|then)\s+", text) if c.strip()]
    pointed = _pointed(clauses) if len(clauses) >= 2 else None
    if pointed is not None:
        return pointed
    whole = _read(text)
    if whole is not None:
        return whole
    # "actually the snowy one was nicer, go back to it"; "that's worse, go back"
    if len(clauses) < 2:
        return None
    # "the dog ruined it. go back to before it": "it" is what another clause is about
    about = [w for c in clauses if not re.search(_PRONOUN_END, c, re.IGNORECASE)
             and not POINTING.match(_tidy(c))
             and re.search(r"\b(?:the|this|that|these|those|your|his|her|a|an)\s+(?!is\b|was\b)"
                           r"[a-z]", c, re.IGNORECASE)
             for w in content_words(respell(c)) if w not in _JUDGING]
    if about:
        clauses = [re.sub(_PRONOUN_END, lambda m: f"{m.group(1)} {' '.join(about)}", c,
                          flags=re.IGNORECASE) for c in clauses]
    found = [(_read(c), _judged_ref(c)) for c in clauses]
    navs = [nav for nav, _ in found if nav is not None]
    refs = [ref for _, ref in found if ref is not None]
    if not navs:
        return None
    nav = navs[-1]
    if nav.kind == "undo" and nav.count == 1 and refs and isinstance(refs[0], Target):
        return Nav("goto", refs[0])
    first = navs[0].target
    if len(navs) >= 2 and nav.kind == "goto" and nav.target is not None and \
            nav.target.how == "before" and first is not None and first.how in ("at", "state") \
            and first.words:  # "the one with the green tram, before the cyclist"
        without = " ".join(filter(None, (first.without, nav.target.words)))
        return Nav("goto", Target("state", first.words, without=without, still=first.still))
    return nav


def _pointed(clauses: list[str]) -> Nav | None:
    """"which version had the cyclist? take me there", "wasn't the tram green? i'd like
    that one": a clause that points ("there", "that one") at what the others name."""
    if not any(POINTING.match(_tidy(c)) for c in clauses):
        return None
    about = [w for c in clauses if not POINTING.match(_tidy(c))
             for w in content_words(respell(c)) if w not in _JUDGING]
    return Nav("goto", _with(" ".join(about), "at")) if about else None



_PRONOUN_END = r"\b(before|after|with|without|to|undo|revert)\s+(?:it|that|them|this|that one)$"
_JUDGING = frozenset("""
think thought preferred prefer guess believe wrong might maybe suppose remember point
ruined ruins ruin spoiled spoils spoil ugly weird bad terrible awful hate hated dislike silly odd
wrong worse worst looks strange off creepy horrible messed mess broke broken killed overdone
much too nicer prettier work works working worked fit fits suit suits nice pretty cool fine
perfect lovely great love loved liked hmm ugh honestly actually really seriously kinda sorta
thanks thank wait oops sorry well
""".split())  # noqa: SIM905 - a word list


def _judged_ref(clause: str) -> Target | None:
    m = _JUDGED.match(_tidy(clause))
    if m:
        ref = _ref(m.group("ref") or m.group("ref2"), marked=True)
        return ref if isinstance(ref, Target) else None
    return None



def _read(text: str) -> Nav | None:
    nav = _read_move(text)
    if nav is not None and nav.kind == "undo":
        low = re.sub(r"[^a-z ]", " ", _FILLER.sub("", text.lower())).strip()
        low = _ASKING.sub("", low).strip()
        if WHOLE.match(low) or re.match(r"^(?:no|nope|nah|oops|undo)$",
                                         re.sub(r"[^a-z ]", "", text.lower()).strip()):
            return Nav("undo", count=nav.count, whole=True)
    return nav


def _read_move(text: str) -> Nav | None:
    text = re.sub(r"^(\W*)rewind\b", r"\1go back", text.strip(), flags=re.IGNORECASE)
    raw = re.sub(r"[^a-z ]", " ", text.lower())
    if AGAIN.match(" ".join(_FILLER.sub("", " ".join(raw.split())).split())):
        return Nav("again")
    s = _tidy(text)
    low = s.lower()
    if re.match(r"^(?:no|nope|nah|oops|undo)$", re.sub(r"[^a-z ]", "", text.lower()).strip()):
        return Nav("undo")
    if not low:
        return None
    if _BARE_UNDO.match(low) or re.match(r"^(?:go|get|come|step|move|take\s+(?:me|us))\s+back"
                                         r"(?:\s+(?:a\s+(?:bit|step)|one))?$", low):
        return Nav("undo")
    m = _COUNT.match(low)
    if m:
        return Nav("undo", count=max(1, _n(next(g for g in m.groups() if g))))
    if _REDO.match(low):
        return Nav("redo")
    if re.match(r"^(?:switch|swap|hop|jump|go|cross|move|flip|change)\s+(?:back\s+)?(?:across|over|"
                r"sides?|branches|to\s+the\s+other\s+side)$", low):
        return Nav("branch", Target("other"))
    m = re.match(rf"^{_UNDO_VERB}\s+(?!(?:back\s+)?to\b)(?P<rest>.+)$", low)
    if m:
        ref = _ref(m.group("rest"), marked=True)
        if ref is None and _words(m.group("rest")):
            return Nav("goto", Target("before", _words(m.group("rest"))))
        nav = _as_nav(ref)
        if nav is not None:
            return nav
    # a verb that moves, then what it moves to ("go back to the red bench": bare words do)
    m = re.match(rf"^{_TO}\s+(?P<rest>.*)$", low)
    if m:
        backward = re.match(r"^(?:\w+\s+(?:(?:me|us|it|this|everything|things)\s+)?back|back|"
                            r"return|revert|"
                            r"roll\s*back|rewind|restore|reset)\b", low)
        ref = _ref(m.group("rest"), marked=not backward)
        nav = _as_nav(ref)
        if nav is not None:
            return nav
        if ref == "pronoun" and backward:
            return Nav("undo")
    m = re.match(r"^(?:bring|put|get)\s+(?:back\s+)?(?P<w>.+?)(?:\s+back)?$", low)
    if m and re.match(r"^(?:bring|put|get)\s+back\b|.*\bback$", low) and _words(m.group("w")):
        return Nav("goto", _with(m.group("w"), "at"))
    m = re.match(rf"^{_SEE}\s+(?P<rest>.+)$", low)
    if m:
        nav = _as_nav(_ref(m.group("rest"), marked=True))
        if nav is not None:
            return nav
    m = _PREFER.match(low)
    if m:
        nav = _as_nav(_ref(m.group("ref"), marked=True))
        if nav is not None:
            return nav
    m = None if _QUESTION.match(low) else _JUDGED.match(low)
    if m:
        nav = _as_nav(_ref(m.group("ref") or m.group("ref2"), marked=True))
        if nav is not None:
            return nav
    if _QUESTION.match(low) or _EDIT_START.match(low):
        return None
    return _as_nav(_ref(low, marked=True))


_QUESTION = re.compile(r"^(?:what|why|who|which|whose|is|are|does|do|did|was|were|has|have|can|"
                       r"could|will|would|should|(?:when|where|how)\s+(?:did|do|does|is|are|was|"
                       r"were|can|could|would|should|will|much|many|long))\b", re.IGNORECASE)
_EDIT_START = re.compile(r"^(?:make|add|remove|replace|change|turn|put|give|swap|move|paint|"
                         r"colou?r|erase|take|draw|create|generate|render|set|apply|convert|"
                         r"transform|let|have|place|insert|fix|crop|rotate|flip|blur|sharpen|"
                         r"brighten|darken|increase|decrease|zoom|delete|drop|lose|mirror|invert|"
                         r"resize|scale|straighten|desaturate|greyscale|grayscale|dye|empty|"
                         r"have|let|get|bring\s+(?:in|out)|show\s+(?:him|her|them|it)\b)\b",
                         re.IGNORECASE)


def _as_nav(ref) -> Nav | None:
    if isinstance(ref, Nav):
        return ref
    if isinstance(ref, Target):
        if ref.how in ("before", "at", "state") and not (ref.words or ref.without):
            return None
        return Nav("goto", ref)
    return None
