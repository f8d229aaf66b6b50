"""Does a plan account for what the request said? `problems(request, before, after)` lists
the request's words the new caption ignores and the things it asked to take away that
are still there:

- every content word of the request must show in the new caption (as itself, its lemma
  or its stem), or name something the picture had ("replace the PHONE ..."), or be a
  word the recipe that planned it stands for ("moodier" planned as low-key light); the
  rest are words the plan did not read ("cardigan in NAVY rather than purple" planned
  without navy), and a plan that did not read them is asked about, not run;
- what the request takes away ("no mist", "lose the specs", "yellow not blue", "instead
  of the maples") must be named less often afterwards.

Words that say nothing about the picture (articles, pronouns, hedges, chat words, verbs
of asking) are prompts/vocabulary.yaml's `request_glue`.
"""

from __future__ import annotations

import functools
import re
from collections import Counter

from agent.prompts import vocabulary

_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
_BRITISH = (("our", "or"), ("ise", "ize"), ("yse", "yze"), ("grey", "gray"), ("tre", "ter"))
# what the request takes away: the words after these must be fewer afterwards
_NEGATORS = ("no", "not", "without", "minus")
_PHRASE_NEGATORS = ("instead of", "rather than", "in place of", "no more", "none of")


def words(text: str) -> list[str]:
    return _WORD.findall((text or "").lower().replace("’", "'"))


@functools.cache
def glue() -> frozenset[str]:
    v = vocabulary()
    out = {str(w).lower() for w in v.get("request_glue", []) if isinstance(w, str)}
    for key in ("edit_verbs", "clause_verbs", "removal_verbs"):  # verbs of asking
        for phrase in v.get(key, []):
            out.update(words(str(phrase)))
    for key in ("softer", "stronger"):
        for phrase in v.get(key, []):
            out.update(words(phrase))
    return frozenset(out)


@functools.cache
def _removal_verbs() -> tuple[str, ...]:
    return tuple(sorted(vocabulary().get("removal_verbs", []), key=len, reverse=True))


@functools.lru_cache(maxsize=8192)
def forms(word: str, crude: bool = True) -> frozenset[str]:
    """The word, its lemmas and a spelling without British endings: the forms it may take
    in a caption ("bluer" -> blue, "boots" -> boot, "colour" -> color). crude: endings cut
    off too (for the request's words; a caption's "creaming" is not "cream")."""
    from lemminflect import getAllLemmas

    out = {word}
    for lemmas in getAllLemmas(word).values():
        out.update(lemmas)
    for gb, us in _BRITISH:
        if gb in word:
            out.add(word.replace(gb, us))
    if not crude:
        return frozenset(out)
    for end in ("ier", "iest"):  # comparatives lemminflect may not know: "cosier"
        if word.endswith(end):
            out.add(word[: -len(end)] + "y")
    for end in ("er", "est", "s", "es", "ed", "ing", "y"):
        if word.endswith(end) and len(word) - len(end) >= 3:
            out.add(word[: -len(end)])
    return frozenset(out)


def _stem_set(text: str) -> set[str]:
    out: set[str] = set()
    for w in words(text):
        out |= forms(w)
    return out


def _shown(word: str, stems: set[str]) -> bool:
    if forms(word) & stems:
        return True
    # a long word whose first six letters match ("strawberrys" / "strawberries"), or the
    # end of a compound ("watch" / "wristwatch")
    return any((len(word) >= 7 and len(s) >= 6 and s[:6] == word[:6])
               or (len(word) >= 4 and len(s) > len(word) + 2 and s.endswith(word))
               for s in stems)


def unaccounted_overlap(ws: list[str], caption: str) -> list[str]:
    """The words of `ws` the caption already names (by form, or as the start of one of
    its words: "lab" / "labrador")."""
    had = _stem_set(caption) - glue()
    return [w for w in ws if w not in glue() and (
        _shown(w, had) or (len(w) >= 3 and any(h.startswith(w) for h in had)))]


def lost(before: str, after: str) -> float:
    """The share of the caption's content words the new caption no longer has."""
    had = [w for w in dict.fromkeys(words(before)) if w not in glue() and not w.isdigit()]
    if not had:
        return 0.0
    now = _stem_set(after)
    return sum(not _shown(w, now) for w in had) / len(had)


def unaccounted(request: str, before: str, after: str,
                explained: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """The request's content words the new caption neither shows nor had before."""
    had, now = _stem_set(before), _stem_set(after)
    known = _stem_set(" ".join(explained))
    out = []
    for w in words(request):
        if w in glue() or w.isdigit() or len(w) < 2 or "'" in w:
            continue
        if _shown(w, now) or _shown(w, had) or forms(w) & known:
            continue
        out.append(w)
    return list(dict.fromkeys(out))


def _taken(request: str) -> list[str]:
    """Head words of what the request takes away: "lose the specs" -> specs, "yellow not
    blue" -> blue, "no mist" -> mist, "take off her glasses and earrings" -> glasses,
    earrings."""
    low = " ".join(words(request))
    g = glue()
    starts = [m.end() for n in _NEGATORS for m in re.finditer(rf"\b{n}\b", low)]
    starts += [m.end() for p in (*_PHRASE_NEGATORS, *_removal_verbs())
               for m in re.finditer(rf"\b{re.escape(p)}\b", low)]
    heads = []
    determiners = {"the", "a", "an", "any", "all", "those", "that", "this", "these", "his",
                   "her", "their", "its", "my", "of", "some", "more"}
    for start in sorted(set(starts)):
        rest = low[start:].split()
        while rest and rest[0] in determiners:
            rest = rest[1:]
        phrase: list[str] = []
        for w in rest:
            if w in g and w not in ("and",):
                break
            if w == "and":
                if phrase:
                    heads.append(phrase[-1])
                phrase = []
                continue
            phrase.append(w)
        if phrase:
            heads.append(phrase[-1])
    return heads


def left_in(request: str, before: str, after: str) -> list[str]:
    """What the request takes away that the new caption names as often as before."""
    def counts(text: str) -> Counter:
        c: Counter = Counter()
        for w in words(text):
            for f in forms(w):
                c[f] += 1
        return c

    b, a = counts(before), counts(after)
    out = []
    for head in _taken(request):
        fs = forms(head)
        n_before = max((b[f] for f in fs), default=0)
        n_after = max((a[f] for f in fs), default=0)
        if n_before and n_after >= n_before:
            out.append(head)
    return list(dict.fromkeys(out))


def problems(request: str, before: str, after: str,
             explained: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Why the new caption does not do what the request said; [] when it does."""
    found = []
    missing = unaccounted(request, before, after, explained)
    if missing:
        found.append("I found no way to use " + ", ".join(f"\"{w}\"" for w in missing[:4]))
    if lost(before, after) > 0.5:  # "on a sage green background, with ...": the rest gone
        found.append("most of what the picture shows left out")
    kept = left_in(request, before, after)
    if kept:
        found.append(", ".join(f"\"{w}\"" for w in kept[:3]) + " would still be in the picture")
    return found
