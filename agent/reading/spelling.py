"""Typing slips put right before a message is read: "replace the phone with a vinyl
recrod" -> "record", "teh one wiht the hat" -> "the one with the hat", "befroe the blakc
and white" -> "before the black and white".

Only slips of the fingers are corrected: two letters swapped, one letter missing (in
words of five letters or more), one too many or one struck for another (seven or more),
towards
a word of the English word list that ships inside `pyspellchecker` (nothing is
downloaded). A word any list knows is never changed: the spell checker's, lemminflect's,
the chat's own vocabulary, or a British spelling of a known word ("colour", "harbour",
"kerb" stay), and a word is only corrected towards a common one ("noir" and "scandi" stay).
Short words (under four letters) are left alone but for the few slips of
prompts/vocabulary.yaml's `spelling` table ("teh", "isnt").
"""

from __future__ import annotations

import functools
import re

from agent.prompts import load_yaml, recipes, vocabulary

_COMMON = 200  # a correction must be a word the list has seen at least this often
_TOKEN = re.compile(r"[A-Za-z][A-Za-z']*")
_BRITISH = (("our", "or"), ("ise", "ize"), ("ised", "ized"), ("ising", "izing"),
            ("isation", "ization"), ("yse", "yze"), ("re", "er"), ("ll", "l"), ("ogue", "og"),
            ("ence", "ense"), ("ae", "e"))


@functools.cache
def _checker():
    from spellchecker import SpellChecker

    return SpellChecker(distance=1)


@functools.cache
def _own_words() -> frozenset[str]:
    """Words of the chat's own lists (colours, things worn, people, places ...)."""
    out: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                out.update(str(k).lower().split())
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            out.update(w for w in re.findall(r"[a-z][a-z'-]*", value.lower()))

    walk(vocabulary())
    walk(recipes())  # the words recipes write into captions ("cel-shaded", "bokeh")
    walk(load_yaml("groups.yaml"))
    return frozenset(out)


@functools.lru_cache(maxsize=8192)
def known(word: str) -> bool:
    """A word some list knows (or a British spelling of one)."""
    from lemminflect import getAllLemmas

    w = word.lower()
    if w in _own_words() or getAllLemmas(w):
        return True
    checker = _checker()
    if checker.known([w]):
        return True
    for gb, us in _BRITISH:
        if gb in w and checker.known([w.replace(gb, us)]):
            return True
    return False


def _slips(word: str) -> set[str]:
    """Words one typing slip away: swapped neighbours; a letter missing (five letters or
    more); a letter too many or one struck for another (seven or more). Shorter made-up
    words stay made up: "florp" is not "flop", "wibble" not "nibble", "chonky" not "honky"."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    if len(word) >= 5:
        out |= {a + c + b for a, b in splits for c in letters}
    if len(word) >= 7:
        out |= {a + b[1:] for a, b in splits if b}
    if len(word) >= 7:
        out |= {a + c + b[1:] for a, b in splits if b for c in letters}
    return out


@functools.lru_cache(maxsize=8192)
def correct_word(word: str) -> str:
    """The word meant, or the word itself when it is known or no single slip explains it."""
    low = word.lower()
    table = vocabulary().get("spelling", {})
    if low in table:
        return _same_case(word, table[low])
    if len(low) < 4 or "'" in low or known(low):
        return word
    checker = _checker()
    found = [w for w in checker.known(_slips(low)) if checker[w] >= _COMMON]
    if not found:  # a rare word one slip away is likelier a name or a style ("scandi")
        return word
    best = max(sorted(found), key=lambda w: checker.word_usage_frequency(w))
    return _same_case(word, best)


def _same_case(original: str, new: str) -> str:
    return new.capitalize() if original[:1].isupper() else new


def correct(text: str, keep: frozenset[str] | set[str] = frozenset()) -> str:
    """The text with its typing slips put right; words in `keep` (a caption's) stay."""
    def fix(m: re.Match) -> str:
        w = m.group(0)
        return w if w.lower() in keep else correct_word(w)

    return _TOKEN.sub(fix, text)
