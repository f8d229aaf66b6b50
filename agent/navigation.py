"""Going back, read from what people write, and found in the lineage.

read(text) turns a message into a navigation request (or None): questions and hedges
("hmm, can we go back to ...?", "could you undo that"), references by the change
("before you added the dog", "before the snow", "the one where the bench was still
brown", "two edits ago", "the version I uploaded"), by branch content ("the branch
with the umbrella", "the other version"). The edit after "... and make it sunny" is
split off by agent.intents.

navigate(nav, nodes, head_id, groups) finds the node it means. A change is found by
its step's instruction, the words its caption gained over its parent's, its focus
words and the user's request that made it (all its steps). Words are compared by
their lemmas (lemminflect: "added" ~ "add", "dogs" ~ "dog", "snowed" ~ "snow") and a
few derivations ("snowy" ~ "snow", "sunny" ~ "sun"). On the current branch the change
is taken; elsewhere a single match is taken, several make a question naming them, and
none moves nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from agent import lineage

# -- the request --------------------------------------------------------------------------

NavKind = Literal["undo", "redo", "goto", "branch"]


@dataclass(frozen=True)
class Target:
    """Where a move goes.

    how: "before" / "at" a described change, "state" (the version whose caption says the
    words and not `without`; `still`: the last such version before it changed), "turn"
    n of the current branch, "original", "image" n (0: the other image), "other" (the
    other branch)."""

    how: Literal["before", "at", "state", "turn", "original", "image", "other"]
    words: str = ""
    number: int = 0
    without: str = ""
    still: bool = False


@dataclass(frozen=True)
class Nav:
    kind: NavKind
    target: Target | None = None  # goto; branch (None: the most recent other branch)
    count: int = 1  # undo


_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a couple": 2, "couple of": 2,
            "a": 1, "an": 1, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
            "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "last": -1,
            "latest": -1, "once": 1, "twice": 2, "thrice": 3}
_NUM = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|a couple(?: of)?|couple of|an?)"
_ORD = r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|latest)"
_THING = r"(?:version|one|image|picture|pic|photo|state|shot|edit|result|variant|take)"


def _n(word: str) -> int:
    word = word.strip().lower().lstrip("#")
    return int(word) if word.isdigit() else _NUMBERS.get(word, 0)


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
_TO = (r"(?:(?:go|get|come|head|jump|skip|move|step|switch|swap|flip|roll|take\s+(?:me|us|it|this)|"
       r"bring\s+(?:me|us|it|this)|put\s+(?:me|us|it))\s+back|back|return|revert|roll\s*back|"
       r"rewind|restore|reset|(?:switch|send|move|get|set)\s+(?:me|us|it|this)\s+back|"
       r"(?:change|turn|make)\s+(?:it|this|everything|things)\s+back|switch|swap|"
       r"jump|move|go|get|head|take\s+(?:me|us)|bring\s+(?:me|us))"
       r"(?:\s+(?:back|over))?(?:\s+(?:to|into|onto))?")
# ... and verbs that take a change back ("undo the dog" means the version before it).
_UNDO_VERB = (r"(?:undo|revert|roll\s*back|take\s+back|scrap|cancel|reverse|drop\s+back\s+from|"
              r"get\s+rid\s+of\s+the\s+edit\s+with)")
_SEE = (r"(?:show\s+(?:me|us)|let\s+me\s+see|(?:can|could|may)\s+i\s+(?:see|have)|see|view|open|"
        r"load|pick|use|choose|select|give\s+me|i\s+(?:want|need|miss|prefer|liked|loved)|"
        r"(?:i|we)(?:'d|\s+would)\s+(?:like|prefer|rather\s+have)|pull\s+up|bring\s+up|"
        r"continue\s+(?:from|with)|(?:re)?start\s+(?:again\s+|over\s+)?from|begin\s+again\s+from|"
        r"(?:have\s+|take\s+)?(?:a\s+)?look\s+at|check\s+out|pick\s+up\s+from|work\s+(?:from|on)|"
        r"edit\s+from|keep)")
_BARE_UNDO = re.compile(
    r"^(?:undo|revert|go back|get back|step back|move back|back|back up|take (?:that|it|this) back|"
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
                   r"step forward|move forward|forward|undo (?:the|that|my|your) undo|"
                   r"go forward again|forward again|(?:go|jump) ahead|put it back the way you had it)$",
                   re.IGNORECASE)
_ORIGINAL = re.compile(
    rf"^(?:the\s+)?(?:very\s+)?(?:original|beginning|start|unedited|untouched|first)"
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
    text = " ".join(text.replace("’", "'").split())
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
    m = re.search(r"\s*(?:,\s*)?\b(?:(?:but|and|yet)\s+(?:with\s+)?(?:it\s+|he\s+|she\s+|there\s+)?"
                  r"(?:no|not|without|before(?:\s+the)?|(?:was|is|had|has|did|were)\s*n[o']?t|"
                  r"(?:wasn|isn|hadn|hasn|didn|weren)'?t)|without|with\s+no)\s+(?:any\s+)?(?:yet\s+)?"
                  r"(?P<neg>.+)$", low)
    if m:
        without, low = _words(m.group("neg")), low[: m.start()]
    still = bool(re.search(r"\b(?:still|yet|remained|stayed)\b", low))
    words = _words(low)
    if still or without:
        return Target("state", words, without=without, still=still)
    return Target(how, words)


def _words(phrase: str) -> str:
    return " ".join(content_words(phrase))


def read(text: str) -> Nav | None:
    """The navigation a message asks for, or None when it asks for something else."""
    whole = _read(text)
    if whole is not None:
        return whole
    # "actually the snowy one was nicer, go back to it"; "that's worse, go back"
    clauses = [c for c in re.split(r"\s*[,;.!?]+\s*|\s+(?:so|and then|then)\s+", text) if c.strip()]
    if len(clauses) < 2:
        return None
    # "the dog ruined it. go back to before it": "it" is what another clause is about
    about = [w for c in clauses if not re.search(_PRONOUN_END, c, re.IGNORECASE)
             and re.search(r"\b(?:the|this|that|these|those|your|his|her)\s+(?!is\b|was\b)[a-z]",
                           c, re.IGNORECASE)
             for w in content_words(c) if w not in _JUDGING]
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
    return nav


_PRONOUN_END = r"\b(before|after|with|without|to|undo|revert)\s+(?:it|that|them|this|that one)$"
_JUDGING = frozenset("""
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
                         r"brighten|darken|increase|decrease|zoom|delete|drop|lose)\b",
                         re.IGNORECASE)


def _as_nav(ref) -> Nav | None:
    if isinstance(ref, Nav):
        return ref
    if isinstance(ref, Target):
        if ref.how in ("before", "at", "state") and not (ref.words or ref.without):
            return None
        return Nav("goto", ref)
    return None


# -- words --------------------------------------------------------------------------------

_STOP = frozenset("""
a an the this that these those it its it's i me my mine we us our you your yours he him his
she her they them their to of in on at by for from with into onto over and or but so just
still only also again then there here one ones version versions image images picture
pictures pic pics photo photos shot state edit edits change changes step steps turn turns
look looks looking looked thing things stuff bit part kind sort was were is are be been
being had has have having do did does done doing get got gets getting go went gone going
come came coming show showed shown appear appeared start started starting back before after
when where which while prior until till add added adding adds put putting puts made make
making makes paint painted painting paints colour color colored coloured turned turning
gave give giving gives place placed insert inserted draw drew drawn include included become
became more less very really little some any all whole entire like liked love loved nice
nicer better best good great now time point moment right exactly way ago earlier first next
previous last latest new old same what who how showing yet remained stayed instead please
let lets can could would will should may might must actually sure okay ok hmm um too quite
hold holds holding held wear wears wearing wore worn carry carries carrying filter effect style
vibe feel
rather pretty version's guy guys area around without no not none n't don't didn't wasn't
weren't up
""".split())  # noqa: SIM905 - a word list
# Edits named by what they took away ("remove the glasses") do not give the image the words.
_REMOVAL = re.compile(r"^(?:remove|erase|delete|take (?:off|away|out)|get rid of|drop|lose|"
                      r"without|no more)\b", re.IGNORECASE)
_SYNONYMS = {"puppy": "dog", "pup": "dog", "doggy": "dog", "doggie": "dog", "doggo": "dog",
             "hound": "dog", "kitten": "cat", "kitty": "cat", "brolly": "umbrella",
             "parasol": "umbrella", "snowfall": "snow", "sunshine": "sun", "sunlight": "sun",
             "grey": "gray", "colour": "color", "kid": "child", "photograph": "photo",
             "cap": "hat", "beanie": "hat", "specs": "glasses", "sunnier": "sun",
             "snowier": "snow", "sofa": "couch", "wintry": "winter", "wintery": "winter", "settee": "couch", "automobile": "car"}


# Verbs that say how a change was asked for, in any inflection ("changed", "became").
_VERBS = frozenset("""
add put make paint colour color turn change give place insert draw include become get go come
show appear start do have be let hold wear carry look seem happen end
""".split())  # noqa: SIM905 - a word list


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9][a-z0-9'-]*", (text or "").lower())
            if w not in _STOP and not w.endswith(("n't", "'s", "'ll", "'re", "'ve", "'d"))
            and not forms(w) & _VERBS]


@lru_cache(maxsize=8192)
def forms(word: str) -> frozenset[str]:
    """A word, its lemmas and a few derivations: 'snowy' -> {snowy, snow}, 'added' -> {add}."""
    from lemminflect import getAllLemmas, getAllLemmasOOV

    w = word.lower().strip("'-")
    w = w.removesuffix("'s")
    out = {w}
    lemmas = getAllLemmas(w) or {**getAllLemmasOOV(w, "NOUN"), **getAllLemmasOOV(w, "VERB")}
    for found in lemmas.values():
        out.update(found)
    for f in tuple(out):  # grows in the loop
        if f.endswith("y") and len(f) > 4 and f[-2] not in "aeiou":  # snowy, sunny, rainy
            stem = f[:-1]
            out.add(stem)
            if stem[-1] == stem[-2]:
                out.add(stem[:-1])
        if f.endswith("ies") and len(f) > 5:
            out.add(f[:-3] + "y")
        if f.endswith("en") and len(f) > 5 and f[-3] not in "aeiou":  # golden, wooden
            out.add(f[:-2])
    out |= {_SYNONYMS[f] for f in list(out) if f in _SYNONYMS}
    return frozenset(out)


def keys(text: str | None) -> frozenset[str]:
    out: set[str] = set()
    for w in content_words(text or ""):
        out |= forms(w)
    return frozenset(out)


def matches(query: Sequence[str], have: frozenset[str]) -> bool:
    return bool(query) and all(forms(q) & have for q in query)


# -- the lineage ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One user request's steps (or a single step), first to last, and what names it."""

    steps: tuple
    request: str

    @property
    def first(self):
        return self.steps[0]

    @property
    def last(self):
        return self.steps[-1]

    def label(self) -> str:
        text = self.request or " ".join(s.instruction or "" for s in self.steps)
        return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Outcome:
    """Where the head goes (node), or a question (kind "ask") or why not (kind "none")."""

    node: object | None
    kind: Literal["move", "ask", "none"]
    text: str = ""
    candidates: tuple = ()


class _Index:
    def __init__(self, nodes, groups, caption_of: Callable):
        self.nodes = list(nodes)
        self.by_id = lineage.by_id(self.nodes)
        self.caption_of = caption_of
        self._caps: dict[str, frozenset[str]] = {}
        self.group_of: dict[str, tuple[str, tuple[str, ...]]] = {}
        for request, ids in groups:
            ids = tuple(i for i in ids if i in self.by_id)
            for i in ids:
                self.group_of[i] = (request or "", ids)

    def caption_keys(self, node) -> frozenset[str]:
        if node.id not in self._caps:
            self._caps[node.id] = keys(self.caption_of(node))
        return self._caps[node.id]

    def parent(self, node):
        return self.by_id.get(node.parent_id) if node.parent_id else None

    def step_keys(self, node, *, gained: bool) -> frozenset[str]:
        """What names a step: its instruction (unless it took the words away, for gained),
        the words its caption gained, its focus words."""
        parent = self.parent(node)
        cap = self.caption_keys(node)
        added = cap - self.caption_keys(parent) if parent is not None else cap
        out = set(added) | keys(" ".join(node.focus_words or ()))
        if not gained and parent is not None:  # "before the brown bench turned red"
            out |= self.caption_keys(parent) - cap
        if not (gained and _REMOVAL.match(node.instruction or "")):
            out |= keys(node.instruction)
        return frozenset(out)

    def changes(self, query: Sequence[str], *, gained: bool) -> list[Change]:
        """The changes that name every query word, oldest first."""
        out, seen = [], set()
        for node in self.nodes:
            if node.parent_id is None or node.id in seen:
                continue
            request, ids = self.group_of.get(node.id, ("", (node.id,)))
            steps = [self.by_id[i] for i in ids]
            seen.update(ids)
            # a step whose instruction says it ("make the circle blue and the square red":
            # before the square is between the steps); else the request, when it says it
            # ("undo the vintage look": before all its steps); else any step that names it.
            # A version "with" it is where the request ended.
            named = [s for s in steps if matches(query, self.step_keys(s, gained=gained))]
            told = [s for s in named if matches(query, keys(s.instruction))]
            said = keys(request) if not (gained and _REMOVAL.match(request)) else frozenset()
            if request and matches(query, said):
                named = told if told and not gained else steps  # "the snowy one": its end
            elif not named and request and matches(query, said.union(
                    *(self.step_keys(s, gained=gained) for s in steps))):
                named = steps
            if named:
                first, last = steps.index(named[0]), steps.index(named[-1])
                out.append(Change(tuple(steps[first:last + 1]), request))
        return out

    def introduced(self, change: Change, query: Sequence[str]) -> bool:
        parent = self.parent(change.first)
        return matches(query, self.caption_keys(change.last)) and not (
            parent is not None and matches(query, self.caption_keys(parent)))


def navigate(nav: Nav, nodes, head_id: str | None, groups=(), redo_hint: str | None = None,
             caption_of: Callable = lambda n: n.caption) -> Outcome:
    """The node a navigation request means, over the conversation's nodes.

    groups: (request text, node ids it produced) of the edit requests, oldest first."""
    nodes = list(nodes)
    if not nodes or head_id is None:
        return Outcome(None, "none", "There are no images yet: nothing to go back to.")
    ix = _Index(nodes, groups, caption_of)
    if nav.kind == "undo":
        return _plain(*lineage.undo(nodes, head_id, nav.count))
    if nav.kind == "redo":
        return _plain(*lineage.redo(nodes, head_id, redo_hint))
    if nav.kind == "branch":
        return _branch(ix, nav.target, head_id)
    return _goto(ix, nav.target, head_id)


def _plain(node, why) -> Outcome:
    return Outcome(node, "move") if node is not None else Outcome(None, "none", why)


def _goto(ix: _Index, target: Target, head_id: str) -> Outcome:
    nodes = ix.nodes
    head = ix.by_id[head_id]
    if target.how == "image":
        roots = sorted((n for n in nodes if n.parent_id is None), key=lambda n: (n.created_at, n.id))
        k = target.number
        if k == 0:
            others = [r for r in roots if r.id != head.root_id]
            return _plain(*((others[-1], None) if others else (None, "There is only one image.")))
        k = len(roots) if k == -1 else k
        if not 1 <= k <= len(roots):
            return Outcome(None, "none", f"The conversation has {len(roots)} uploaded or "
                                         f"generated image(s); image {k} does not exist.")
        return Outcome(roots[k - 1], "move")
    branch = lineage.current_branch(nodes, head.id)
    if target.how == "original":
        return Outcome(branch[0], "move")
    if target.how == "turn":
        n = target.number
        if n == -1:
            return Outcome(branch[-1], "move")
        if 0 <= n < len(branch):
            return Outcome(branch[n], "move")
        return Outcome(None, "none", f"This branch has turns 0 (the original) to "
                                     f"{len(branch) - 1}; there is no turn {n}. Say \"show the "
                                     "history\" to see them.")
    if target.how == "other":
        return _branch(ix, target, head_id)
    query = content_words(target.words)  # the LLM's words come as it wrote them
    if target.how == "state":
        return _state(ix, branch, query, content_words(target.without), target.still)
    if not query:
        return Outcome(None, "none", "I could not tell which version you mean; say \"show the "
                                     "history\" to see them.")
    before = target.how == "before"
    changes = ix.changes(query, gained=not before)
    if not changes:
        if before:
            return _before_state(ix, branch, query)
        return _state(ix, branch, query, [], False)
    on = [c for c in changes if c.first.id in {n.id for n in branch}]
    pool = on or changes
    if len(pool) > 1:
        intro = [c for c in pool if ix.introduced(c, query)]
        if on and intro:
            pool = intro[:1]
        elif intro:
            pool = intro
    if len(pool) > 1:
        return _ask(ix, [(c.first if before else c.last, c) for c in pool], before, query)
    change = pool[0]
    if before:
        parent = ix.parent(change.first)
        if parent is None:
            return Outcome(None, "none", "That made a new image; there is no version before it.")
        return Outcome(parent, "move")
    return Outcome(change.last, "move")


def _before_state(ix: _Index, branch, query) -> Outcome:
    has = [n for n in ix.nodes if matches(query, ix.caption_keys(n))]
    if not has:
        return _nothing(query)
    if any(n.parent_id is None for n in has if n.id in {b.id for b in branch}) or \
            all(n.parent_id is None for n in has):
        return Outcome(None, "none", f"The original image already has \"{' '.join(query)}\"; "
                                     "there is no version before it.")
    first = next((n for n in branch if n in has), None)
    if first is not None:
        return Outcome(ix.parent(first), "move")
    intro = [n for n in has if n.parent_id and not matches(query, ix.caption_keys(ix.parent(n)))]
    if len(intro) == 1:
        return Outcome(ix.parent(intro[0]), "move")
    return _ask(ix, [(n, None) for n in intro], True, query) if intro else _nothing(query)


def _state(ix: _Index, branch, query, without, still: bool) -> Outcome:
    def holds(n) -> bool:
        have = ix.caption_keys(n)
        return (not query or matches(query, have)) and not any(forms(w) & have for w in without)

    on = [holds(n) for n in branch]
    if any(on):
        start = on.index(True)
        end = start
        while end + 1 < len(on) and on[end + 1]:
            end += 1
        last = still or (without and not query)
        return Outcome(branch[end] if last else branch[start], "move")
    if not query:
        return _nothing(without)
    intro = [n for n in ix.nodes if holds(n) and (n.parent_id is None or not holds(ix.parent(n)))]
    if len(intro) == 1:
        return Outcome(intro[0], "move")
    if intro:
        return _ask(ix, [(n, None) for n in intro], False, query)
    return _nothing(query)


def _nothing(query) -> Outcome:
    what = " ".join(query)
    return Outcome(None, "none", f"I found no version with \"{what}\" in this conversation, so "
                                 "I left the image where it is. Say \"show the history\" to "
                                 "see every version.")


def _describe(ix: _Index, node) -> str:
    if node.parent_id is None:
        return f"the original (\"{ix.caption_of(node)}\")"
    request, _ = ix.group_of.get(node.id, ("", ()))
    what = node.instruction or ix.caption_of(node)
    return f"turn #{node.depth}: \"{what}\"" + (f" (from \"{request}\")" if request and
                                                 request.lower() != what.lower() else "")


def _ask(ix: _Index, found, before: bool, query) -> Outcome:
    """A question naming the candidates, each with words that find it alone."""
    lines, seen = [], set()
    for node, change in found:
        if node.id in seen:
            continue
        seen.add(node.id)
        step = change.first if change is not None else node
        words = " ".join(content_words(step.instruction or "")) or " ".join(query)
        say = f"go back to before \"{step.instruction}\"" if before and step.instruction else \
            f"go back to the one with {words}"
        lines.append(f"- {_describe(ix, node)}: say {say}")
    text = (f"Which one do you mean? \"{' '.join(query)}\" fits {len(lines)} versions:\n"
            + "\n".join(lines) + "\nI left the image where it is.")
    return Outcome(None, "ask", text, tuple(n for n, _ in found))


def _branch(ix: _Index, target: Target | None, head_id: str) -> Outcome:
    nodes = ix.nodes
    head = ix.by_id[head_id]
    tips = sorted(lineage.leaves(nodes), key=lambda n: (n.created_at, n.id), reverse=True)
    current = lineage.branch_leaf(nodes, head_id)
    if target is None:  # "switch branch": the most recent other tip
        others = [t for t in tips if t.id != current.id]
        if not others:
            return Outcome(None, "none", "There is only one branch: edit an earlier version to "
                                         "start another.")
        return Outcome(others[0], "move")
    if target.how == "other":
        others = [t for t in tips if t.id != current.id and t.root_id == head.root_id]
        if not others:
            others = [t for t in tips if t.id != current.id]
        if len(others) == 1:
            return Outcome(others[0], "move")
        if not others:
            return Outcome(None, "none", "There is only one branch: edit an earlier version to "
                                         "start another.")
        return _ask_branches(ix, others, current, "the other version")
    query = content_words(target.words)
    without = content_words(target.without)

    def has(tip) -> bool:
        chain = lineage.path(nodes, tip.id)
        named = any(matches(query, ix.caption_keys(n)) or (n.parent_id and matches(
            query, ix.step_keys(n, gained=True))) for n in chain)
        return named and not any(forms(w) & ix.caption_keys(tip) for w in without)

    found = [t for t in tips if has(t)]
    others = [t for t in found if t.id != current.id]
    if not found:
        return Outcome(None, "none", f"No branch has \"{' '.join(query)}\" in it; I left the "
                                     "image where it is.")
    if not others:
        if head_id != current.id:
            return Outcome(current, "move")
        return Outcome(None, "none", f"You are on the branch with \"{' '.join(query)}\" "
                                     "already.")
    if len(others) == 1:
        return Outcome(others[0], "move")
    return _ask_branches(ix, others, current, ' '.join(query))


def _ask_branches(ix: _Index, tips, current, what: str) -> Outcome:
    """Name each branch by its first change that the others do not share."""
    paths = {t.id: lineage.path(ix.nodes, t.id) for t in [*tips, current]}
    lines = []
    for tip in tips:
        shared = {n.id for t in [*tips, current] if t.id != tip.id for n in paths[t.id]}
        own = [n for n in paths[tip.id] if n.id not in shared and n.parent_id]
        step = own[0] if own else tip
        request, _ = ix.group_of.get(step.id, ("", ()))
        words = " ".join(content_words(request or step.instruction or "")) or "its change"
        lines.append(f"- the branch ending at {_describe(ix, tip)}: say switch to the branch "
                     f"with {words}")
    text = (f"Which one do you mean? \"{what}\" fits {len(lines)} branches:\n" + "\n".join(lines)
            + "\nI left the image where it is.")
    return Outcome(None, "ask", text, tuple(tips))
