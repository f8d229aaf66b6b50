"""Region words in a request: where the user limits an edit ("only the sky", "just the
background", "everything except the dog", "the left half", "the top right corner").

read(text) -> (RegionWords | None, the request without them):

    "make only the sky pink"                 -> only ("sky"), "make the sky pink"
    "just the background: make it blue"      -> only ("background"), "make the background blue"
    "make everything except the dog black and white"
                                             -> except ("dog"), "make everything black and white"
    "make it sepia but leave the cat alone"  -> except ("cat"), "make it sepia"
    "make the left half darker"              -> area (0, 0, .5, 1), "make it darker"
    "add a star in the top right corner"     -> area (.5, 0, 1, .5), the request as it was
                                                (an added thing keeps its place in the caption)

A thing is found in the picture by the model when the edit runs (agent/jobs/regions.py);
an area is a fixed share of the frame. Places an object is moved or put to ("move the
circle to the left half") are destinations, not regions: they are not read.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from agent.prompts import alternation, vocabulary

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as shares of the width / height

_HALF = {"left": (0, 0, .5, 1), "right": (.5, 0, 1, 1), "top": (0, 0, 1, .5),
         "upper": (0, 0, 1, .5), "bottom": (0, .5, 1, 1), "lower": (0, .5, 1, 1)}
_CORNER = {("top", "left"): (0, 0, .5, .5), ("top", "right"): (.5, 0, 1, .5),
           ("bottom", "left"): (0, .5, .5, 1), ("bottom", "right"): (.5, .5, 1, 1)}
_UP = {"upper": "top", "lower": "bottom"}
_IMAGE = r"(?:image|picture|photo|frame|scene|pic)"
_OF_IMAGE = rf"(?:\s+of\s+(?:the|this|my)\s+{_IMAGE})?"
_AREA = (rf"(?:the\s+)?(?:(?P<v>top|upper|bottom|lower)[\s-]+(?P<h>left|right)\s+"
         rf"(?:corner|quarter|part)|(?P<half>left|right|top|upper|bottom|lower)\s+"
         rf"(?:half|side|part)|(?P<mid>middle|centre|center)(?=\s+of\s)){_OF_IMAGE}")
# Verbs that move or put a thing somewhere: a place after them is a destination.
_MOVING = {"move", "put", "place", "bring", "shift", "drag", "slide", "send", "push", "pull",
           "relocate", "position"}
_ADDING = {"add", "draw", "insert", "paint", "include", "give"}
_STOP = {"and", "or", "to", "into", "in", "on", "with", "as", "of", "from", "but", "then",
         "it", "its", "a", "an", "only", "just", "alone", "unchanged", "untouched", "intact"}
DETERMINERS = ("the", "my", "his", "her", "their", "its", "this", "that", "these", "those")
_DET = rf"(?:(?:{'|'.join(DETERMINERS)})\s+)"


@dataclass(frozen=True)
class RegionWords:
    """What the region words mean. kind "only": the edit acts on the things alone;
    "except": everywhere but on them; "area": on a share of the frame (`box`)."""

    kind: Literal["only", "except", "area"]
    phrase: str  # as written
    things: tuple[str, ...] = ()
    box: Box | None = None

    def as_dict(self) -> dict:
        """The job's region (agent/jobs/spec.py, JobSpec.region)."""
        out: dict = {"source": "words", "phrase": self.phrase}
        if self.box is not None:
            out["box"] = list(self.box)
        else:
            out["things"] = list(self.things)
            out["except"] = self.kind == "except"
        return out

    def describe(self) -> str:
        if self.kind == "area":
            return self.phrase
        names = " and ".join(f"the {t}" for t in self.things)
        return f"everything except {names}" if self.kind == "except" else f"only {names}"


@functools.cache
def _adjectives() -> frozenset[str]:
    v = vocabulary()
    words = [*v["colours"], *v.get("hair_colours", [])]
    words += [w for ws in v["sizes"].values() for w in ws] + list(v["sizes"])
    words += [w for ws in v.get("attributes", {}).values() for w in ws]
    return frozenset(w.lower() for w in words)


def _noun_phrase(words: list[str]) -> int:
    """How many of `words` make one noun phrase: a determiner, adjectives, one noun (0 when
    they do not start with one)."""
    i = 1 if words and words[0] in DETERMINERS else 0
    while i < len(words) and words[i] in _adjectives() and i + 1 < len(words) \
            and words[i + 1] not in _STOP:
        i += 1
    if i < len(words) and re.fullmatch(r"[a-z][a-z'-]*", words[i]) and words[i] not in _STOP:
        return i + 1
    return 0


def _thing(phrase: str) -> str:
    """'the small red circle' -> 'small red circle' (what the caption names)."""
    return re.sub(rf"^{_DET}", "", phrase.strip()).strip()


def _area(m: re.Match) -> Box:
    if m.group("mid"):
        return (.25, .25, .75, .75)
    if m.group("half"):
        return _HALF[m.group("half")]
    v = _UP.get(m.group("v"), m.group("v"))
    return _CORNER[(v, m.group("h"))]


def _tidy(text: str) -> str:
    text = re.sub(r"\s+([,.;:!?])", r"\1", " ".join(text.split()))
    return re.sub(r"^[,;:\s]+|[,;:\s]+$", "", text)


def _np_at(text: str, start: int) -> tuple[str, int] | None:
    """The noun phrase starting at `start` (several joined by "and the"), and its end."""
    rest = text[start:]
    spans = [(m.group(0).lower(), m.start(), m.end()) for m in re.finditer(r"[\w'-]+", rest)]
    words = [w for w, _, _ in spans]
    n = _noun_phrase(words)
    if not n:
        return None
    end = spans[n - 1][2]
    while n + 1 < len(words) and words[n] == "and" and words[n + 1] in DETERMINERS:
        k = _noun_phrase(words[n + 1:])
        if not k:
            break
        n += 1 + k
        end = spans[n - 1][2]
    return rest[:end], start + end


def _things(phrase: str) -> tuple[str, ...]:
    return tuple(_thing(p) for p in re.split(r"\s+and\s+", phrase) if _thing(p))


@functools.cache
def _except_re() -> re.Pattern:
    return re.compile(
        r"(?P<lead>,?\s*)\b(?:except(?:\s+for)?|but\s+not|apart\s+from|other\s+than|"
        r"excluding|save\s+for|aside\s+from|without\s+(?:touching|changing|affecting))\s+",
        re.IGNORECASE)


_KEEP = re.compile(r"(?P<lead>,?\s*)\b(?:(?:and|but)\s+)?(?P<how>leave|keep|(?:do\s+not|"
                   r"don'?t)\s+(?:touch|change|edit))\s+", re.IGNORECASE)
_KEEP_TAIL = re.compile(r"^\s*(?:as\s+it\s+is|as\s+is|alone|untouched|unchanged|intact|"
                        r"the\s+same|as\s+(?:it\s+)?was)\b", re.IGNORECASE)


def _read_except(text: str) -> tuple[RegionWords, str] | None:
    for m in _except_re().finditer(text):
        found = _np_at(text, m.end())
        if found is None:
            continue
        phrase, end = found
        words = RegionWords("except", _tidy(text[m.start():end]), _things(phrase))
        return words, _tidy(f"{text[: m.start()]} {text[end:]}")
    for m in _KEEP.finditer(text):  # "..., but leave the dog as it is", "don't touch the dog"
        found = _np_at(text, m.end())
        if found is None or not text[: m.start()].strip():
            continue
        phrase, end = found
        tail = _KEEP_TAIL.match(text[end:])
        if tail is None and m.group("how").lower() in ("leave", "keep"):
            continue  # "keep the dog" alone is no limit ("... and keep the dog in the shade")
        end += tail.end() if tail else 0
        return (RegionWords("except", _tidy(text[m.start():end]), _things(phrase)),
                _tidy(f"{text[: m.start()]} {text[end:]}"))
    return None


@functools.cache
def _only_re() -> re.Pattern:
    return re.compile(r"\b(?P<w>only|just|solely|exclusively)\s+", re.IGNORECASE)


def _verbs() -> str:
    return alternation(vocabulary()["edit_verbs"] + vocabulary()["clause_verbs"])


def _read_only(text: str) -> tuple[RegionWords, str] | None:
    for m in _only_re().finditer(text):
        after = m.end()
        v = re.match(rf"(?:{_verbs()})\s+", text[after:], re.IGNORECASE)
        at = after + (v.end() if v else 0)  # "only change the sky"
        area = re.match(_AREA, text[at:], re.IGNORECASE)
        if area:
            phrase = text[m.start(): at + area.end()]
            rest = _tidy(f"{text[: m.start()]} {text[after:at]}it {text[at + area.end():]}")
            return RegionWords("area", _tidy(phrase), box=_area(_lower(area))), rest
        found = _np_at(text, at)
        if found is None or not re.match(_DET, text[at:], re.IGNORECASE):
            continue  # "just like a painting", "only slightly"
        phrase, end = found
        rest = text[: m.start()] + text[after:]
        if m.start() == 0 and re.match(r"\s*[,:;-]", text[end:]):  # "just the sky: make it pink"
            rest = _with_it(text[end:].lstrip(" ,:;-"), phrase)
        elif not v and re.search(r"[,:;-]\s*$", text[: m.start()]) and not text[end:].strip(
                " .!"):  # "make the square bigger, only the square"
            rest = text[: m.start()]
        return RegionWords("only", _tidy(f"{m.group('w')} {phrase}"), _things(phrase)), \
            _tidy(rest)
    m = re.search(rf"(?P<np>{_DET}?[\w'-]+(?:\s+[\w'-]+){{0,2}})\s+only\b", text, re.IGNORECASE)
    if m:  # "recolour the background only"
        found = None
        words = m.group("np").split()
        for k in range(len(words)):
            cand = " ".join(words[k:])
            if _noun_phrase(cand.lower().split()) == len(cand.split()) and re.match(
                    _DET, cand, re.IGNORECASE):
                found = cand
                break
        if found:
            rest = text[: m.end("np")] + text[m.end():]
            return RegionWords("only", f"{found} only", _things(found)), _tidy(rest)
    return None


def _with_it(rest: str, phrase: str) -> str:
    """'make it pink' with 'the sky' -> 'make the sky pink'."""
    return re.sub(r"\bit\b", phrase, rest, count=1, flags=re.IGNORECASE)


def _lower(m: re.Match) -> re.Match:
    return re.match(_AREA, m.group(0).lower())  # the group names, in lower case


def _read_area(text: str) -> tuple[RegionWords, str] | None:
    first = (re.findall(r"[a-z]+", text.lower()) or [""])[0]
    if first in _MOVING:
        return None
    for m in re.finditer(rf"(?P<prep>\b(?:in|on|at|to|across|over)\s+)?{_AREA}", text,
                         re.IGNORECASE):
        box = _area(_lower(re.match(_AREA, m.group(0)[len(m.group("prep") or ""):])))
        phrase = _tidy(m.group(0))
        if m.group("prep"):
            keep = first in _ADDING  # an added thing keeps its place in the caption
            rest = text if keep else f"{text[: m.start()]} {text[m.end():]}"
        else:  # "make the left half darker": the area is what changes
            rest = f"{text[: m.start()]} it {text[m.end():]}"
        return RegionWords("area", phrase, box=box), _tidy(rest)
    return None


def read(text: str) -> tuple[RegionWords | None, str]:
    """The region words of a request and the request without them; (None, text) when it
    names no region."""
    text = " ".join((text or "").split())
    if not text:
        return None, text
    for reader in (_read_except, _read_only, _read_area):
        found = reader(text)
        if found is not None and found[1]:
            return found
    return None, text
