"""Rewriting a caption (the prompt that describes the whole image) for one concrete change.

A caption is read as a list of items ("a small red circle on the left and a large
blue square on the right, on a green background" -> three items) so an edit can
find the item it refers to ("the circle on the left") and change only that item.
Each function returns the new caption, or None when the change cannot be placed.
"""

from __future__ import annotations

import functools
import re

from agent.prompts import load_yaml, vocabulary

_SEP = re.compile(r"(,\s+and\s+|,\s+|\s+and\s+)")
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
PREPOSITIONS = {"on", "in", "at", "with", "of", "near", "next", "behind", "under", "above",
                "below", "beside", "by", "from", "to", "inside", "over", "holding", "wearing"}
ARTICLES = {"a", "an", "the", "his", "her", "its", "their", "my", "some"}
REFERS_TO_IMAGE = {"it", "this", "image", "picture", "photo", "everything", "scene", "all",
                   "the image", "the picture", "the photo", "the scene", "whole image"}


def colours() -> list[str]:
    v = vocabulary()
    return list(v["colours"]) + list(v.get("hair_colours", []))


@functools.cache
def _inflect():
    # inflect knows English articles ("an hour", "a unicorn") and plurals ("glasses",
    # "mice") far better than a hand-written rule.
    import inflect

    return inflect.engine()


@functools.lru_cache(maxsize=4096)
def _indefinite(word: str) -> str:
    return _inflect().a(word).split(" ", 1)[0].lower()


@functools.lru_cache(maxsize=4096)
def is_plural(word: str) -> bool:
    w = word.lower()
    if not w.isalpha() or w in uncountable():
        return False
    single = _inflect().singular_noun(w)
    return bool(single) and single != w


@functools.cache
def uncountable() -> frozenset[str]:
    return frozenset(vocabulary().get("uncountable", []))


@functools.cache
def _categories() -> dict[str, str]:
    """Adjective -> its kind (vocabulary.yaml attributes; colours and sizes too)."""
    out = {}
    for kind, ws in vocabulary().get("attributes", {}).items():
        out.update({w: kind for w in ws})
    out.update({w: "size" for w in size_words()})
    out.update({w: "colour" for w in vocabulary().get("colour_shades", [])})
    out.update({w: "colour" for w in colours()})
    return out


def category(word: str) -> str | None:
    return _categories().get(word.lower())


def _rank(kind: str | None, default: int) -> int:
    order = vocabulary().get("adjective_order", [])
    return order.index(kind) if kind in order else default


def people() -> list[str]:
    return list(vocabulary().get("people", []))


def groups() -> dict[str, list[str]]:
    return load_yaml("groups.yaml")


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
        new = _indefinite(word.lower())
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
    """'cat next to her' -> 'a cat next to her'; plurals and mass nouns get none
    ('water droplets', 'rain', 'long hair')."""
    phrase = strip_article(phrase)
    if not phrase:
        return phrase
    noun = head_noun(phrase) or phrase.split()[-1]
    if is_plural(noun) or noun.lower() in uncountable():
        return phrase
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
        if noun not in iw and not (noun.endswith("s") and noun[:-1] in iw) and \
                _compound(iw, noun) is None:
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
    return _compound(item_words, noun)


def _compound(item_words: list[str], noun: str) -> int | None:
    """"coat" names the "raincoat", "watch" the "wristwatch": a word ending in the noun."""
    if len(noun) < 3:
        return None
    return next((i for i, w in enumerate(item_words)
                 if w.endswith(noun) and len(w) >= len(noun) + 3 and w.isalpha()), None)


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


def _modifiers(item_words: list[str], n: int) -> list[int]:
    """Indices of the words before the noun at n that modify it ('long brown' in 'with
    long brown hair'): back to an article, a preposition, 'and' or a verb in -ing."""
    out, j = [], n - 1
    while j >= 0 and len(out) < 4:
        w = item_words[j]
        if w in ARTICLES or w in PREPOSITIONS or w in ("and", "of", "or") or (
                w.endswith("ing") and category(w) is None) or w.isdigit():
            break
        out.insert(0, j)
        j -= 1
    return out


def _set_modifier(item: str, n: int, adjective: str) -> str:
    """Put the adjective on the noun at word n: replace a word of the same kind, else
    insert it where English puts that kind of adjective."""
    iw = words(item)
    mods = _modifiers(iw, n)
    if adjective.lower() in (iw[j] for j in mods):
        return item
    kind = category(adjective.split()[0]) if adjective.split() else None
    if kind is not None:
        same = [j for j in mods if category(iw[j]) == kind]
        if same:
            for j in reversed(same[:-1]):
                item = _replace_word_at(item, j, None)
            return _replace_word_at(item, same[-1] - len(same[:-1]), adjective)
    rank = _rank(kind, 3)  # an adjective of no known kind goes before colours
    later = [j for j in mods if _rank(category(iw[j]), 99) > rank]
    return _insert_before_word(item, later[0] if later else n, adjective)


def recolor(caption: str, ref: str, colour: str) -> str | None:
    return _edit_item(caption, ref, lambda item, noun: _set_modifier(
        item, _noun_index(words(item), noun), colour))


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
    """'make the cat fluffy': the adjective goes on the noun; 'make her hair short'
    replaces 'long' (an adjective of the same kind) instead of adding a second one."""
    return _edit_item(caption, ref, lambda item, noun: _set_modifier(
        item, _noun_index(words(item), noun), adjective))


def replace_object(caption: str, ref: str, new_phrase: str) -> str | None:
    """'replace the wall with a forest': the whole noun phrase ('a brick wall') becomes
    the new one ('a forest'); its colour and size stay unless the new phrase brings its
    own ('replace the circle with a square': 'a small red square')."""
    new = strip_article(new_phrase)
    new_words = new.split()
    if not new_words:
        return None
    new_kinds = {category(w) for w in words(new)}

    def fn(item: str, noun: str) -> str:
        iw = words(item)
        n = _noun_index(iw, noun)
        mods = _modifiers(iw, n)
        keep = [iw[j] for j in mods if category(iw[j]) in ("size", "colour")
                and category(iw[j]) not in new_kinds]
        spans = [m.span() for m in _WORD.finditer(item.lower())]
        start = spans[mods[0]][0] if mods else spans[n][0]
        end = spans[n][1]
        art = spans[mods[0] - 1] if mods and mods[0] > 0 else (
            spans[n - 1] if not mods and n > 0 else None)
        had_indefinite = art is not None and item[art[0]:art[1]].lower() in ("a", "an")
        sizes = [w for w in keep if category(w) == "size"]
        phrase = " ".join([*sizes, *[w for w in keep if w not in sizes], new])
        if had_indefinite:
            start = art[0]
            phrase = with_article(phrase)
        return item[:start] + phrase + item[end:]

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
                     rf"(?:[\w-]+\s+){{0,2}}{re.escape(noun)}s?\b(?:\s+(?:next to|beside|behind|"
                     rf"near|in front of|on|in|at)\s+(?:her|him|them|it)\b(?:\s+(?:lap|hands?|"
                     rf"arms?|shoulders?|head|feet))?)?", caption, re.IGNORECASE)
    if worn:
        return (caption[: worn.start()] + caption[worn.end():]).strip(" ,")
    items, seps = split_items(caption)
    i = find_item(items, ref)
    if i is None or noun == "background":
        return None
    if len(items) == 1 or not _starts_item(items[i], noun):
        return _remove_phrase(caption, items, seps, i, noun)
    if i == 0:
        del items[0], seps[0]
    else:
        was_last = "and" in seps[i - 1]
        del items[i], seps[i - 1]
        if was_last and i >= 2:
            seps[i - 2] = " and "  # "A, B and C" without C is "A and B"
    out = join_items(items, seps)
    return re.sub(r"^(?:on|in|at)\s+(?=(?:a|an|the)\b)", "", out).strip()


def _starts_item(item: str, noun: str) -> bool:
    """Does the item begin with the noun's phrase ('a small red circle on the left')?"""
    iw = words(item)
    n = _noun_index(iw, noun)
    mods = _modifiers(iw, n)
    first = mods[0] if mods else n
    return first == 0 or (first == 1 and iw[0] in ARTICLES)


def locations() -> list[str]:
    return sorted(vocabulary().get("locations", []), key=len, reverse=True)


def _remove_phrase(caption: str, items: list[str], seps: list[str], i: int,
                   noun: str) -> str | None:
    """Drop the noun's phrase with the preposition that places it ('in front of a brick
    wall', 'surrounded by pine trees'); the subject of the caption cannot be dropped."""
    item = items[i]
    iw = words(item)
    n = _noun_index(iw, noun)
    spans = [m.span() for m in _WORD.finditer(item.lower())]
    mods = _modifiers(iw, n)
    first = mods[0] if mods else n
    start = spans[first][0]
    if first > 0 and iw[first - 1] in ARTICLES:
        start = spans[first - 1][0]
    before = item[:start].lower()
    prep = next((p for p in locations() + ["with", "wearing", "holding", "and"]
                 if re.search(rf"(?:^|\s){re.escape(p)}\s+$", before)), None)
    if prep is None:
        return None
    start = before.rstrip().rfind(prep) if before.rstrip().endswith(prep) else start
    end = spans[n][1]
    # "with a cat next to her": the cat's own place goes with it
    tail = re.match(rf"\s+(?:{_alternation(locations())})\s+(?:(?:the|a|an|her|his|their|its)"
                    rf"\s+)?[\w-]+", item[end:], re.IGNORECASE)
    if tail and prep in ("with", "and"):
        end += tail.end()
    new_item = (item[:start].rstrip() + " " + item[end:].lstrip()).strip()
    new_item = re.sub(r"\s+(?:and|with|in|on|of)$", "", new_item)
    if not new_item or new_item.lower() in ARTICLES:
        if len(items) == 1:
            return None
        del items[i], seps[i - 1 if i else 0]
        return join_items(items, seps)
    items[i] = new_item
    return join_items(items, seps).strip(" ,")


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
