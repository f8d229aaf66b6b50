"""Map the planner's focus words to T5 token positions of the encoded prompt.

The positions index the text part of FLUX's joint sequence, i.e. the rows of the T5
encoding made with `tokenizer_2(prompt, max_length=max_length, truncation=True,
padding="max_length")`, as FluxPipeline encodes prompts (right padding, so the
positions do not depend on padding).

Matching, per focus word or phrase (case-insensitive):
1. every whole-word occurrence of the phrase in the prompt;
2. if there is none, prompt words that share a stem with it: one starts with the other
   and the shorter has at least 3 letters ("cats" finds "cat", "red" finds "reddish");
3. otherwise the word contributes nothing.
All tokens of a matched span count (a word split into several sub-word pieces gives
several positions). The result is sorted and unique; positions cut off by truncation are
dropped. When nothing matches, the backend falls back (`fallback_focus`, as the
preset's `highlight_fallback` says): the target prompt's first noun, or a fixed T5
position (the authors always highlight position 2); it logs that it did.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"\w+", re.UNICODE)
_MIN_STEM = 3


def _phrase_spans(prompt: str, phrase: str) -> list[tuple[int, int]]:
    words = _WORD.findall(phrase.lower())
    if not words:
        return []
    pattern = r"(?<!\w)" + r"\W+".join(re.escape(w) for w in words) + r"(?!\w)"
    return [m.span() for m in re.finditer(pattern, prompt.lower())]


def _stem_spans(prompt: str, word: str) -> list[tuple[int, int]]:
    word = word.lower()
    spans = []
    for m in _WORD.finditer(prompt.lower()):
        w = m.group()
        shorter = min(len(w), len(word))
        if shorter >= _MIN_STEM and (w.startswith(word) or word.startswith(w)):
            spans.append(m.span())
    return spans


def find_word_spans(prompt: str, word: str) -> list[tuple[int, int]]:
    """Character spans of `word` (a word or phrase) in `prompt`, by the rules above."""
    spans = _phrase_spans(prompt, word)
    if spans:
        return spans
    parts = _WORD.findall(word)
    if len(parts) == 1:
        return _stem_spans(prompt, parts[0])
    # A phrase not found as a whole: fall back to its words one by one.
    return [s for p in parts for s in find_word_spans(prompt, p)]


def _token_offsets(tokenizer, prompt: str, max_length: int) -> list[tuple[int, int]] | None:
    try:
        enc = tokenizer(prompt, max_length=max_length, truncation=True, return_offsets_mapping=True)
    except (NotImplementedError, TypeError, ValueError):
        return None  # slow tokenizers have no offsets
    offsets = enc.get("offset_mapping")
    return [tuple(o) for o in offsets] if offsets is not None else None


def _positions_by_ids(tokenizer, prompt: str, span_texts: list[str], max_length: int) -> set[int]:
    """Fallback without offsets: find each span's token ids as a run in the prompt's ids."""
    ids = tokenizer(prompt, max_length=max_length, truncation=True)["input_ids"]
    found: set[int] = set()
    for text in span_texts:
        for variant in (text, " " + text):
            piece = tokenizer(variant, add_special_tokens=False)["input_ids"]
            n = len(piece)
            hits = [i for i in range(len(ids) - n + 1) if n and ids[i : i + n] == piece]
            if hits:
                for i in hits:
                    found.update(range(i, i + n))
                break
    return found


def focus_token_positions(tokenizer_2, prompt: str, words: Iterable[str], max_length: int = 512) -> list[int]:
    """T5 token positions of `words` in `prompt` (see the module docstring); [] if none match."""
    spans = sorted({s for w in words if w and w.strip() for s in find_word_spans(prompt, w)})
    if not spans:
        return []
    offsets = _token_offsets(tokenizer_2, prompt, max_length)
    if offsets is None:
        found = _positions_by_ids(tokenizer_2, prompt, [prompt[a:b] for a, b in spans], max_length)
    else:
        found = {
            i for i, (s, e) in enumerate(offsets)
            if e > s and any(s < b and e > a for a, b in spans)
        }
    return sorted(p for p in found if p < max_length)


# Words that come before a noun phrase (determiners, instruction verbs), and words that close one (what follows the head noun).
_LEADING = frozenset(
    ["a", "an", "the", "this", "that", "these", "those", "some", "any", "one", "two", "three", "four", "its", "his", "her", "their", "my", "your", "our", "make", "turn", "add", "put", "give", "change", "replace"])
_PHRASE_END = frozenset(
    ["on", "in", "at", "with", "of", "and", "or", "but", "under", "over", "near", "behind", "beside", "by", "from", "to", "into", "onto", "above", "below", "next", "against", "inside", "outside", "is", "are", "was", "were", "has", "have", "wearing", "holding", "while", "which", "that", "who", "instead"])


def first_noun(prompt: str) -> str | None:
    """The head noun of the prompt's first noun phrase, by a rule (no tagger): skip leading
    determiners, read up to the first preposition, conjunction, verb-like "-ing" word or
    punctuation, and take the last word read ("a small red circle on the left" -> "circle")."""
    clause = re.split(r"[,.;:!?()]", prompt, maxsplit=1)[0]
    words = [w.lower() for w in _WORD.findall(clause)]
    while words and words[0] in _LEADING:
        words.pop(0)
    head = None
    for i, w in enumerate(words):
        if w in _PHRASE_END or (i > 0 and w.endswith("ing") and len(w) > 4) or w.isdigit():
            break
        head = w
    return head


def fallback_focus(tokenizer_2, prompt: str, max_length: int, how: str = "first_noun",
                   position: int = 2) -> tuple[list[int], str]:
    """Focus positions when no focus word matched, and how they were chosen.

    how "first_noun": the T5 positions of the prompt's first noun (`first_noun`), else
    `position`; "position": T5 position `position` (the authors' fixed choice is 2),
    clamped to the prompt's last token; "none": no positions ([], "none").
    """
    if how == "none":
        return [], "none"
    if how == "first_noun":
        noun = first_noun(prompt)
        if noun:
            found = focus_token_positions(tokenizer_2, prompt, [noun], max_length)
            if found:
                return found, f"first noun {noun!r}"
    n = len(tokenizer_2(prompt, max_length=max_length, truncation=True)["input_ids"])
    pos = max(0, min(int(position), n - 1, max_length - 1))
    return [pos], f"T5 position {pos}"
