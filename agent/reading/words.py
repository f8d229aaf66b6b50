"""Words as the lineage is searched by them: content words, their lemmas and a few
derivations, so "added the dog" finds "Add a dog" and "snowy" finds "snow".

Lemmas come from lemminflect ("added" ~ "add", "dogs" ~ "dog", "snowed" ~ "snow"); the
derivations ("snowy" ~ "snow", "sunny" ~ "sun") and a short synonym list are ours.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

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
weren't up if perhaps maybe probably possibly guess think suppose whichever whatever
""".split())  # noqa: SIM905 - a word list
_SYNONYMS = {"puppy": "dog", "pup": "dog", "doggy": "dog", "doggie": "dog", "doggo": "dog",
             "hound": "dog", "kitten": "cat", "kitty": "cat", "brolly": "umbrella",
             "parasol": "umbrella", "snowfall": "snow", "sunshine": "sun", "sunlight": "sun",
             "grey": "gray", "colour": "color", "kid": "child", "photograph": "photo",
             "cap": "hat", "beanie": "hat", "specs": "glasses", "sunnier": "sun",
             "snowier": "snow", "sofa": "couch", "wintry": "winter", "wintery": "winter", "settee": "couch", "automobile": "car"}


# Verbs that say how a change was asked for, in any inflection ("changed", "became").
_VERBS = frozenset("""
add put make paint colour color turn change give place insert draw include become get go come
show appear start do have be let hold wear carry look seem happen end take
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
