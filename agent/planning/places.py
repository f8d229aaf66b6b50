"""Where things are in a caption: its place ("in front of a brick wall", ", standing on a
skateboard ramp") and its background, and how a new place is said ("on the beach", "in
a forest")."""

from __future__ import annotations

import re

from agent.planning.captions import (
    _alternation,
    append,
    category,
    colours,
    find_item,
    fix_articles,
    head_noun,
    is_plural,
    join_items,
    locations,
    split_items,
    strip_article,
    uncountable,
    with_article,
    words,
)
from agent.prompts import vocabulary


def remove_subject(caption: str, ref: str) -> str | None:
    """"lose the phone box" from "a photo of an old red phone box on a quiet village street":
    the place it stood becomes the picture ("a photo of a quiet village street")."""
    from agent.planning.recipes import MEDIUM

    items, seps = split_items(caption)
    noun = head_noun(ref)
    medium = MEDIUM.match(items[0])
    body = items[0][medium.end():] if medium else items[0]
    if noun is None or not re.search(rf"\b{re.escape(noun)}s?\b", body, re.IGNORECASE):
        return None
    m = re.search(rf"\b{re.escape(noun)}s?\b\s+(?:{_alternation(locations())})\s+(?P<rest>.+)$",
                  body, re.IGNORECASE)
    if m is None or len(words(body[: m.start()])) > 5:
        return None
    items[0] = (medium.group(0) if medium else "") + m.group("rest")
    return fix_articles(join_items(items, seps))


def place_preposition(place: str) -> str:
    """'beach' -> 'on', 'wall' -> 'in front of', else 'in'."""
    noun = head_noun(place) or ""
    single = noun.removesuffix("s")
    for prep, nouns in vocabulary().get("place_prepositions", {}).items():
        if noun in nouns or single in nouns:
            return prep
    return "in"


def _location_span(item: str) -> tuple[int, int] | None:
    """Where the first item's place starts and ends ('in front of a brick wall')."""
    m = re.search(rf"\s(?:{_alternation(locations())})\s+(?!(?:her|him|them|it)\b)",
                  item, re.IGNORECASE)
    if m is None:
        return None
    # not the subject's own words: the place comes after the first noun phrase
    if len(words(item[: m.start()])) < 2:
        return None
    return m.start() + 1, len(item)


def set_location(caption: str, place: str, prep: str | None = None) -> str:
    """'put her on the moon': the caption's place becomes the new one."""
    given = place.strip()
    place = strip_article(given)
    own = given[: len(given) - len(place)].strip()  # the user's own article stays
    phrase = f"{prep or place_preposition(place)} {f'{own} {place}' if own else _place_article(place)}"
    items, seps = split_items(caption)
    span = _location_span(items[0])
    if span is None:
        for k in range(len(items) - 1, 0, -1):  # ", standing on a skateboard ramp"
            m = re.match(rf"^(?:[a-z]+ing\s+)?(?:{_alternation(locations())})\s+(?!(?:her|him|them|"
                         rf"it)\b)", items[k], re.IGNORECASE)
            if m and "background" not in words(items[k]):
                start = items[k].index(" ") + 1 if re.match(r"^[a-z]+ing\s", items[k],
                                                             re.IGNORECASE) else 0
                items[k] = items[k][:start] + phrase
                return join_items(items, seps)
        return append(caption, phrase)
    items[0] = items[0][: span[0]] + phrase
    return join_items(items, seps)


def _place_article(place: str) -> str:
    noun = head_noun(place) or ""
    if noun in ("moon", "sun", "sea", "ocean", "sky", "desert", "city", "beach", "street",
                "countryside", "mountains", "jungle", "arctic", "stage"):
        return f"the {place}"
    if noun in ("mars", "paris", "london", "tokyo", "space", "venice", "rome") or is_plural(
            noun) or noun in uncountable():
        return place
    return with_article(place)


def set_background(caption: str, value: str) -> str:
    value = strip_article(value).strip()
    if value in colours():  # a new colour: the old one and the stuff go, a pattern stays
        m = re.search(r"\b(?:a|an|the)\s+((?:[\w-]+\s+){0,3}?)background\b", caption,
                      re.IGNORECASE)
        if m:
            kept = [w for w in m.group(1).split() if category(w) in ("pattern", "size")]
            phrase = fix_articles(" ".join(["a", *kept, value, "background"]))
            return caption[: m.start()] + phrase + caption[m.end():]
    items, _ = split_items(caption)
    if find_item(items, "background") is None and _location_span(items[0]) is not None:
        if value in colours():
            return set_location(caption, f"plain {value} background", "in front of")
        return set_location(caption, value)
    if not value.endswith("background"):
        value = f"{value} background"
    items, seps = split_items(caption)
    i = find_item(items, "background")
    if i is not None:
        prep = re.match(r"^\s*(on|in|against|with)\b", items[i], re.IGNORECASE)
        items[i] = fix_articles(f"{prep.group(1) if prep else 'on'} a {value}")
        return join_items(items, seps)
    return f"{caption}, on a {value}"


