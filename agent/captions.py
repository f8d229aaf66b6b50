"""Rewriting a caption (the prompt that describes the whole image) for one concrete change.

A caption is read as a list of items ("a small red circle on the left and a large
blue square on the right, on a green background" -> three items) so an edit can
find the item it refers to ("the circle on the left") and change only that item.
Each function returns the new caption, or None when the change cannot be placed.
"""

from __future__ import annotations

import re

from agent.prompts import vocabulary

_SEP = re.compile(r"(,\s+and\s+|,\s+|\s+and\s+)")
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
PREPOSITIONS = {"on", "in", "at", "with", "of", "near", "next", "behind", "under", "above",
                "below", "beside", "by", "from", "to", "inside", "over", "holding", "wearing"}
ARTICLES = {"a", "an", "the", "his", "her", "its", "their", "my", "some"}
REFERS_TO_IMAGE = {"it", "this", "image", "picture", "photo", "everything", "scene", "all",
                   "the image", "the picture", "the photo", "the scene", "whole image"}


def colours() -> list[str]:
    return list(vocabulary()["colours"])


def size_words() -> dict[str, str]:
    """Every size word -> its canonical word ("bigger" -> "large")."""
    return {w: canon for canon, ws in vocabulary()["sizes"].items() for w in [canon, *ws]}


def positions() -> list[str]:
    return sorted(vocabulary()["positions"], key=len, reverse=True)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _alternation(options) -> str:
    return "|".join(re.escape(o) for o in sorted(options, key=len, reverse=True))


def split_items(caption: str) -> tuple[list[str], list[str]]:
    parts = _SEP.split(caption)
    return parts[0::2], parts[1::2]


def join_items(items: list[str], seps: list[str]) -> str:
    out = items[0]
    for sep, item in zip(seps, items[1:], strict=True):
        out += sep + item
    return out


def fix_articles(text: str) -> str:
    def repl(m: re.Match) -> str:
        art, word = m.group(1), m.group(2)
        an = word[0].lower() in "aeiou"
        new = "an" if an else "a"
        if art[0].isupper():
            new = new.capitalize()
        return f"{new} {word}"

    return re.sub(r"\b([Aa]n?)\s+([A-Za-z][\w-]*)", repl, text)


def head_noun(phrase: str) -> str | None:
    """The last word before the first preposition: 'red circle on the left' -> 'circle'."""
    ws = [w for w in words(phrase) if w not in ARTICLES]
    cut = next((i for i, w in enumerate(ws) if w in PREPOSITIONS), len(ws))
    head = ws[:cut]
    return head[-1] if head else None


def strip_article(phrase: str) -> str:
    ws = phrase.strip().split()
    while ws and ws[0].lower() in ARTICLES:
        ws = ws[1:]
    return " ".join(ws)


def with_article(phrase: str) -> str:
    phrase = strip_article(phrase)
    if not phrase:
        return phrase
    if phrase.endswith("s") and not phrase.endswith("ss") and " " not in phrase:
        return phrase  # a plural: "glasses", "flowers"
    return fix_articles(f"a {phrase}")


def find_item(items: list[str], ref: str) -> int | None:
    """The item the reference phrase names (its head noun must occur; other words break ties)."""
    noun = head_noun(ref)
    if noun is None:
        return None
    ref_words = set(words(ref)) - ARTICLES - PREPOSITIONS
    ref_places = [p for p in positions() if re.search(rf"\b{p}\b", ref.lower())]
    best, best_score = None, 0
    for i, item in enumerate(items):
        iw = words(item)
        if noun not in iw and not (noun.endswith("s") and noun[:-1] in iw):
            continue
        score = 10 + len(ref_words & set(iw))
        score += 5 * sum(bool(re.search(rf"\b{p}\b", item.lower())) for p in ref_places[:1])
        if score > best_score:
            best, best_score = i, score
    return best


def _noun_index(item_words: list[str], noun: str) -> int | None:
    for cand in (noun, noun[:-1] if noun.endswith("s") else None):
        if cand and cand in item_words:
            return item_words.index(cand)
    return None


def _edit_item(caption: str, ref: str, fn) -> str | None:
    items, seps = split_items(caption)
    i = find_item(items, ref)
    if i is None:
        return None
    noun = head_noun(ref)
    new = fn(items[i], noun)
    if new is None:
        return None
    items[i] = fix_articles(new)
    return join_items(items, seps)


def _replace_word_at(item: str, index: int, new: str | None) -> str:
    """Replace (or delete, new=None) the index-th word of item, keeping the rest verbatim."""
    spans = [m.span() for m in _WORD.finditer(item.lower())]
    a, b = spans[index]
    if new is None:
        return (item[:a] + item[b:].lstrip()).strip()
    return item[:a] + new + item[b:]


def _insert_before_word(item: str, index: int, new: str) -> str:
    a, _ = [m.span() for m in _WORD.finditer(item.lower())][index]
    return item[:a] + new + " " + item[a:]


def recolor(caption: str, ref: str, colour: str) -> str | None:
    palette = set(colours())

    def fn(item: str, noun: str) -> str:
        iw = words(item)
        n = _noun_index(iw, noun)
        before = [j for j in range(max(0, n - 3), n) if iw[j] in palette]
        if before:
            return _replace_word_at(item, before[-1], colour)
        return _insert_before_word(item, n, colour)

    return _edit_item(caption, ref, fn)


def resize(caption: str, ref: str, size: str) -> str | None:
    sizes = size_words()
    canon = sizes.get(size, size)
    palette = set(colours())

    def fn(item: str, noun: str) -> str:
        iw = words(item)
        n = _noun_index(iw, noun)
        found = [j for j in range(max(0, n - 3), n) if iw[j] in sizes]
        if found:
            return _replace_word_at(item, found[-1], canon)
        col = [j for j in range(max(0, n - 3), n) if iw[j] in palette]
        return _insert_before_word(item, col[0] if col else n, canon)

    return _edit_item(caption, ref, fn)


def set_attribute(caption: str, ref: str, adjective: str) -> str | None:
    """'make the cat fluffy': put the adjective before the noun."""

    def fn(item: str, noun: str) -> str:
        iw = words(item)
        n = _noun_index(iw, noun)
        if adjective.lower() in iw[max(0, n - 3) : n]:
            return item
        return _insert_before_word(item, n, adjective)

    return _edit_item(caption, ref, fn)


def replace_object(caption: str, ref: str, new_phrase: str) -> str | None:
    """'replace the dog with a black cat': the noun changes, its other words stay unless
    the new phrase brings its own colour or size."""
    new_words = strip_article(new_phrase).split()
    if not new_words:
        return None
    palette, sizes = set(colours()), size_words()

    def fn(item: str, noun: str) -> str:
        iw = words(item)
        n = _noun_index(iw, noun)
        new_noun_phrase = new_words
        # Drop colour / size words of the old object that the new phrase replaces.
        drops = []
        if any(w in palette for w in new_words):
            drops += [j for j in range(max(0, n - 3), n) if iw[j] in palette]
        if any(w in sizes for w in new_words):
            drops += [j for j in range(max(0, n - 3), n) if iw[j] in sizes]
        out = _replace_word_at(item, n, " ".join(new_noun_phrase))
        for j in sorted(drops, reverse=True):
            out = _replace_word_at(out, j, None)
        return out

    return _edit_item(caption, ref, fn)


def move(caption: str, ref: str, position: str) -> str | None:
    pat = re.compile(rf"\b(?:{_alternation(positions())})\b", re.IGNORECASE)

    def fn(item: str, noun: str) -> str:
        if pat.search(item):
            return pat.sub(position, item, count=1)
        return f"{item} {position}"

    return _edit_item(caption, ref, fn)


def remove(caption: str, ref: str) -> str | None:
    """Drop something worn or held ("wearing glasses", "with a dog"), else the whole item."""
    noun = head_noun(ref)
    if noun is None:
        return None
    worn = re.search(rf",?\s*\b(?:wearing|with|holding)\s+(?:(?:a|an|the|some|his|her|their)\s+)?"
                     rf"(?:[\w-]+\s+){{0,2}}{re.escape(noun)}\b", caption, re.IGNORECASE)
    if worn:
        return (caption[: worn.start()] + caption[worn.end():]).strip(" ,")
    items, seps = split_items(caption)
    i = find_item(items, ref)
    if i is None or len(items) == 1 or noun == "background":
        return None
    if i == 0:
        del items[0], seps[0]
    else:
        was_last = "and" in seps[i - 1]
        del items[i], seps[i - 1]
        if was_last and i >= 2:
            seps[i - 2] = " and "  # "A, B and C" without C is "A and B"
    out = join_items(items, seps)
    return re.sub(r"^(?:on|in|at)\s+(?=(?:a|an|the)\b)", "", out).strip()


def add_object(caption: str, phrase: str, wearer: str | None = None) -> str:
    """'add a hat' -> '..., wearing a hat'; 'add a yellow triangle at the top' -> a new item."""
    phrase = with_article(phrase)
    noun = head_noun(phrase) or ""
    wearable = noun in set(vocabulary()["wearables"]) or phrase.split()[-1] in set(
        vocabulary()["wearables"])
    if wearable:
        if f"wearing {phrase}".lower() in caption.lower():
            return caption
        if wearer:
            items, seps = split_items(caption)
            i = find_item(items, wearer)
            if i is not None:
                iw = words(items[i])
                n = _noun_index(iw, head_noun(wearer))
                spans = [m.span() for m in _WORD.finditer(items[i].lower())]
                end = spans[n][1]
                items[i] = items[i][:end] + f" wearing {phrase}" + items[i][end:]
                return join_items(items, seps)
        return append(caption, f"wearing {phrase}")
    items, seps = split_items(caption)
    tail = next((j for j, it in enumerate(items) if "background" in words(it)), None)
    if tail is not None and tail > 0:
        objs, obj_seps = items[:tail], seps[: tail - 1]
        objs.append(phrase)
        obj_seps = [", "] * (len(objs) - 2) + [" and "]
        return join_items(objs, obj_seps) + seps[tail - 1] + join_items(items[tail:], seps[tail:])
    return append(caption, f"with {phrase}")


def set_background(caption: str, value: str) -> str:
    value = strip_article(value).strip()
    if value in colours():
        new = recolor(caption, "background", value)
        if new is not None:
            return new
    if not value.endswith("background"):
        value = f"{value} background"
    items, seps = split_items(caption)
    i = find_item(items, "background")
    if i is not None:
        prep = re.match(r"^\s*(on|in|against|with)\b", items[i], re.IGNORECASE)
        items[i] = fix_articles(f"{prep.group(1) if prep else 'on'} a {value}")
        return join_items(items, seps)
    return f"{caption}, on a {value}"


def append(caption: str, text: str) -> str:
    parts = [p.strip(" ,.") for p in text.split(",")]
    parts = [p for p in parts if p and p.lower() not in caption.lower()]
    return ", ".join([caption, *parts])


def replace_phrases(caption: str, table: dict[str, str]) -> str:
    """Whole-word, case-insensitive, longest first, one pass (a replacement is never
    replaced again)."""
    if not table:
        return caption
    lower = {k.lower(): v for k, v in table.items()}
    pat = re.compile(rf"\b(?:{_alternation(lower)})\b", re.IGNORECASE)
    return fix_articles(pat.sub(lambda m: lower[m.group(0).lower()], caption))
