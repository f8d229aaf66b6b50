"""The offline planner's direct rules: a change to a named thing ("make the car red",
"remove the glasses", "put her on the moon") rewrites the caption item it names.

RULES is a table of small rule functions, tried in order, like editing_core's SOLVERS.
A rule gets the clause (lower case) and the caption and answers:
- None: not mine, the next rule is tried;
- a Direct(target, focus, note): the new caption, its focus words, what to tell the user;
- DECLINE: mine, but there is no direct change to make (the planner tries its recipes,
  then the generic rewrite).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from agent.planning import captions as cap
from agent.planning import places
from agent.planning.recipes import MEDIUM, find_recipe, person
from agent.prompts import alternation, vocabulary

PRONOUNS = {"her", "him", "them", "she", "he", "they", "me", "us"}
_DET = r"(?:the |his |her |their |its |that |this |my |our |your |all (?:of )?the |all )?"
_PRON = r"(?:her|him|them|it|me|us|she|he|they)"


class Direct(NamedTuple):
    target: str
    focus: list[str]
    note: str | None = None


DECLINE = Direct("", [], "no direct change")  # compared by identity

Rule = Callable[[str, str], "Direct | None"]


def direct(clause: str, caption: str) -> Direct | None:
    """The first rule's answer for the clause, or None when no rule makes a change."""
    low = clause.lower()
    for rule in RULES:
        found = rule(low, caption)
        if found is not None:
            return None if found is DECLINE else found
    return None


def background(low: str, caption: str) -> Direct | None:
    """"make the background blue", "change the backdrop to a beach"."""
    m = re.match(rf"^(?:(?:make|change|turn|set|paint|colou?r|switch|replace)\s+{_DET})?"
                 rf"(?:background|backdrop|scenery|setting)\s+(?:colou?r\s+)?"
                 rf"(?:to\s+|into\s+|in\s+|with\s+|should\s+be\s+|:\s*)?(?P<y>.+)$", low)
    if not m or (not re.match(r"^(?:make|change|turn|set|paint|colou?r|switch|replace)\b", low)
                 and not re.match(rf"^(?:an?\s+)?(?:{alternation(cap.colours())})\b",
                                  m.group("y"))):
        return None
    y, _, rest = m.group("y").partition(",")
    if rest.strip():  # "background white, clean e-commerce look"
        found = background(f"make the background {y.strip()}", caption)
        if found is not None:
            extra = re.sub(r"\s+(?:look|style|vibe|feel)$", "", rest.strip())
            return Direct(cap.append(found.target, extra), found.focus)
    y = re.sub(r"\s+(?:colou?r|one)$", "", m.group("y"))
    new = places.set_background(caption, y)
    focus = [w for w in cap.words(y) if w in cap.colours()] or cap.words(y)[-1:]
    return Direct(new, focus + (["background"] if "background" in cap.words(new) else []))


def remove(low: str, caption: str) -> Direct | None:
    """"remove the glasses", "take the hat off", "no more snow"."""
    m = re.match(rf"^(?:remove|erase|delete|take (?:off|away|out)|get rid of|drop|lose|"
                 rf"clear|hide|cut out|eliminate)\s+(?:all (?:of )?)?{_DET}(?P<x>.+?)"
                 rf"(?:\s+(?:from|in|on|off)\s+(?:the (?:image|picture|photo|scene|"
                 rf"background)|{_PRON}|it))?$", low) or re.match(
        rf"^(?:take)\s+{_DET}(?P<x>.+?)\s+(?:off|away|out)$", low) or re.match(
        rf"^(?:without|no more|no)\s+{_DET}(?P<x>.+)$", low)
    if not m:
        return None
    x = m.group("x")
    if x in PRONOUNS or x in cap.REFERS_TO_IMAGE:
        return DECLINE
    if x in ("background", "backdrop") and "background" not in caption.lower():
        return Direct(places.set_location(caption, "a plain white background", "on"),
                      ["white", "background"])
    new = cap.remove(caption, x) or _drop_weather(caption, x) or places.remove_subject(caption, x)
    if new is None or new == caption:
        return Direct(caption, [], (
            f"I could not find \"{cap.strip_article(x)}\" in the description "
            f"(\"{caption}\"), so I left the description as it is and this step may "
            "change little."))
    return Direct(new, [])


_CLEAR = {"cloud": "clear", "fog": "clear", "mist": "clear", "rain": "dry", "snow": "clear",
          "storm": "calm", "haze": "clear", "smoke": "clear"}


def _drop_weather(caption: str, x: str) -> str | None:
    """"remove the clouds" from "under a cloudy sky": the word made from it changes."""
    noun = (cap.head_noun(x) or "").removesuffix("s")
    clear = _CLEAR.get(noun)
    m = re.search(rf"\b{re.escape(noun)}(?:y|ey|ing|s)\b", caption, re.IGNORECASE) if clear \
        else None
    if m is None:
        return None
    return caption[: m.start()] + clear + caption[m.end():]


def move(low: str, caption: str) -> Direct | None:
    """"move the circle to the top left" / "... at the top left"."""
    bare = {re.sub(r"^(?:at|on|in)\s+", "", p): p for p in cap.positions()}
    m = re.match(rf"^(?:move|put|place|shift|push)\s+{_DET}(?P<x>.+?)\s+(?:to\s+|over to\s+)?"
                 rf"(?P<pos>{alternation(cap.positions())})$", low) or re.match(
        rf"^(?:move|put|place|shift|push)\s+{_DET}(?P<x>.+?)\s+(?:over\s+)?(?:to(?:ward)?s?\s+)"
        rf"(?P<pos>{alternation(bare)})$", low)
    if not m or m.group("x") in PRONOUNS:
        return None
    pos = bare.get(m.group("pos"), m.group("pos"))
    new = cap.move(caption, m.group("x"), pos)
    return Direct(new, cap.words(pos)[-1:]) if new is not None else None


def new_place(low: str, caption: str) -> Direct | None:
    """A new place: "put her on the moon", "take him to the beach"."""
    about = subject(caption)
    things = alternation({"subject", "product", *cap.people(), *([about] if about else [])})
    m = re.match(rf"^(?:put|place|move|send|take|bring|set|transport|teleport|show)\s+"
                 rf"(?:{_PRON}|{_DET}(?:{things}))\s+"
                 rf"(?P<prep>on|in|at|into|onto|to|under|inside|near|by|next to|in front of|"
                 rf"underwater|under water|in the middle of)\b\s*(?P<where>.*)$", low)
    if not m:
        return None
    prep = m.group("prep")
    where = m.group("where").strip()
    if prep in ("underwater", "under water"):
        where, prep = "water", "under"
    if not where:
        return None
    if prep in ("to", "into", "onto"):
        prep = None
    return Direct(places.set_location(caption, where, prep), cap.words(where)[-1:])


def replace(low: str, caption: str) -> Direct | None:
    """"replace X with Y", "turn X into Y", "change X to Y"."""
    m = re.match(rf"^(?:replace|swap|exchange|substitute)\s+{_DET}(?P<x>.+?)\s+(?:with|for|by)\s+"
                 rf"(?P<y>.+)$", low) or re.match(
        rf"^(?:change|turn|transform|convert|make)\s+{_DET}(?P<x>.+?)\s+(?:in)?to\s+"
        rf"(?P<y>.+)$", low)
    if not m:
        return None
    x, y = m.group("x"), re.sub(r"\s+(?:colou?r|instead)$", "", m.group("y"))
    x = re.sub(r"\s+colou?r$", "", x)  # "change her hair colour to black"
    x = re.sub(r"^colou?r of\s+(?:the |her |his |their |its )?", "", x)
    yw = cap.words(y)
    if x in cap.REFERS_TO_IMAGE or not yw:
        return DECLINE  # "turn it into a watercolor": a style, not an object swap
    if x in PRONOUNS:
        x = person(caption)
        if x is None:
            return DECLINE
        if cap.head_noun(y) in set(vocabulary().get("forms", [])):
            new = cap.replace_object(caption, x, f"{cap.strip_article(y)} of a {x}")
            if new is not None:
                return Direct(new, [cap.head_noun(y)])
    if len(yw) == 1 and yw[0] in cap.colours():
        return recolor(caption, x, yw[0])
    if len(yw) == 1 and yw[0] in cap.size_words():
        new = cap.resize(caption, x, yw[0])
        if new is not None:
            return Direct(new, [cap.size_words()[yw[0]]])
    if len(yw) == 1 and cap.category(yw[0]) is not None:
        new = cap.set_attribute(caption, x, yw[0])
        if new is not None:
            return Direct(new, yw)
    new = cap.replace_object(caption, x, y)
    if new is not None:
        return Direct(new, [cap.head_noun(y) or yw[-1]])
    if find_recipe(y) is not None:
        return DECLINE
    return Direct(cap.append(caption, f"with {cap.with_article(y)}"),
                  [cap.head_noun(y) or yw[-1]],
                  f"I could not find \"{cap.strip_article(x)}\" in the description, so I "
                  f"added {cap.with_article(y)} instead.")


def recolour(low: str, caption: str) -> Direct | None:
    """"make the car red", "paint the circle on the left blue"."""
    hue = alternation(cap.colours())
    shade = alternation(vocabulary().get("colour_shades", []) +
                        vocabulary()["attributes"].get("pattern", []))
    m = re.match(rf"^(?:make|paint|colou?r|recolou?r|turn|dye|change)\s+{_DET}(?P<x>.+?)\s+"
                 rf"(?:to\s+)?(?P<y>(?:(?:{shade})\s+)?(?:{hue})(?:(?:\s+and\s+|-|\s+)(?:{hue}))?"
                 rf"(?:\s+(?:{shade}))?)(?:\s+colou?r(?:ed)?)?(?:\s+with\s+(?P<w>.+))?$", low)
    if not m or (m.group("x") in PRONOUNS
                 and m.group("y") not in vocabulary().get("hair_colours", [])):
        return None
    new, focus, note = recolor(caption, m.group("x"), m.group("y"))
    if note:  # not found, or more than one
        return Direct(new, focus, note)
    if m.group("w"):  # "make the sneaker black with white soles"
        new = cap.append(new, f"with {cap.with_article(m.group('w'))}")
    return Direct(new, focus)


def resize(low: str, caption: str) -> Direct | None:
    """"make the circle bigger", "enlarge the square"."""
    m = re.match(rf"^make\s+{_DET}(?P<x>.+?)\s+(?:much\s+)?"
                 rf"(?P<y>{alternation(cap.size_words())})$", low) or re.match(
        rf"^(?P<v>enlarge|shrink|grow)\s+{_DET}(?P<x>.+)$", low)
    if not m:
        return None
    y = m.groupdict().get("y") or ("small" if m.group("v") == "shrink" else "large")
    if m.group("x") in cap.REFERS_TO_IMAGE or m.group("x") in PRONOUNS:
        return None
    new = cap.resize(caption, m.group("x"), y)
    return Direct(new, [cap.size_words()[y]]) if new is not None else None


def add(low: str, caption: str) -> Direct | None:
    """"add a hat", "put a hat on the dog", "give the dog a hat", "add a cat next to her"."""
    positions = alternation(cap.positions())
    m = re.match(rf"^give\s+(?:(?:him|her|them|it)\s+|{_DET}(?P<who>[\w-]+)\s+)(?P<y>.+)$", low)
    m = m or re.match(rf"^(?:make|let|have)\s+(?:him|her|them|it|{_DET}(?P<who>[\w-]+))\s+"
                      rf"(?:wear|put on|try on|have|hold)\s+(?P<y>.+)$", low)
    holding = bool(m) and re.search(r"\bhold\b", low) is not None
    if not m:
        m = re.match(rf"^(?:add|put|place|insert|draw|include|show)\s+(?P<y>.+\s(?:{positions}))$",
                     low) or re.match(rf"^(?:add|put|place|insert|draw|include|show)\s+"
                                      rf"(?P<y>.+?)(?:\s+(?:on|onto)\s+{_DET}(?P<who>[\w-]+"
                                      rf"(?:'s)?(?: head| face| neck)?))?$", low)
    if not m:
        return None
    y = m.group("y").strip()
    who = m.groupdict().get("who")
    if re.search(rf"\b(?:{positions})$", y) or who in (
            None, "it", "them", "him", "her", "his head", "her head"):
        who = None
    yw = cap.words(y)
    if yw and all(w in PRONOUNS or w in cap.ARTICLES for w in yw):
        return DECLINE
    if who is not None and cap.head_noun(y) not in set(vocabulary()["wearables"]):
        y, who = f"{y} on the {who}", None  # "put a vase on the table"
    if not yw or (find_recipe(y) and len(cap.words(cap.strip_article(y))) <= 2):
        return None  # "add some rain", "add fog": a recipe; "add an old lady ...": an object
    changed = give_attribute(caption, y)
    if changed is not None:
        return changed
    if holding:
        return Direct(cap.append(caption, f"holding {cap.with_article(y)}"),
                      [cap.head_noun(y) or yw[-1]])
    new = cap.add_object(caption, y, who)
    noun = cap.head_noun(y)
    return Direct(new, [w for w in yw if w in cap.colours()] + ([noun] if noun else []))


def attribute(low: str, caption: str) -> Direct | None:
    """"make the cat fluffy", "make her hair short"."""
    m = re.match(rf"^(?:make|turn|change)\s+{_DET}(?P<x>[\w-]+(?:\s+[\w-]+)?)\s+(?:more\s+)?"
                 rf"(?P<y>[\w-]+)$", low)
    if not m or m.group("x") in cap.REFERS_TO_IMAGE or m.group("x") in PRONOUNS:
        return None
    if cap.find_item(cap.split_items(caption)[0], m.group("x")) is None:
        if m.group("x") in _SCENERY:  # "make the sky stormy" with no sky said yet
            prep = "under" if m.group("x") == "sky" else "with"
            thing = cap.with_article(f"{m.group('y')} {m.group('x')}")
            return Direct(cap.append(caption, f"{prep} {thing}"), [m.group("y")])
        return None
    recipe = find_recipe(m.group("y"))
    if recipe is not None and any(st.get("attributes") for st in recipe["steps"]):
        return None
    y = positive(m.group("y"))
    new = cap.set_attribute(caption, m.group("x"), y)
    return Direct(new, [y]) if new is not None else None


_SCENERY = {"sky", "clouds", "sea", "water", "ground", "grass", "light", "lighting", "sun",
            "moon", "weather", "air", "horizon"}

RULES: tuple[Rule, ...] = (background, remove, move, new_place, replace, recolour, resize,
                           add, attribute)


# -- what the rules share ------------------------------------------------------------


def give_attribute(caption: str, phrase: str) -> Direct | None:
    """'give her curly hair' when the caption has hair: change its adjectives."""
    noun = cap.head_noun(phrase)
    if noun is None or not re.search(rf"\b{re.escape(noun)}\b", caption, re.IGNORECASE):
        return None
    adjectives = [w for w in cap.words(cap.strip_article(phrase))[:-1]
                  if w not in cap.ARTICLES]
    if not adjectives or cap.words(phrase)[-1] != noun:
        return None
    new = caption
    for adj in adjectives:
        new = cap.set_attribute(new, noun, adj) or new
    return Direct(new, adjectives[:2] + [noun])


def recolor(caption: str, x: str, colour: str) -> Direct:
    """The caption with `x` in `colour` (its hair for a person; a tint for the image)."""
    x = re.sub(r"\s+colou?r$", "", x)
    hair = set(vocabulary().get("hair_colours", [])) | {
        "black", "brown", "red", "grey", "gray", "white", "pink", "blue", "purple"}
    if ((cap.head_noun(x) is None or x in PRONOUNS) and colour in hair
            and re.search(r"\bhair\b", caption, re.IGNORECASE)):  # "make her a blonde"
        new = cap.recolor(caption, "hair", colour)
        if new is not None:
            return Direct(new, [colour, "hair"])
    if cap.head_noun(x) is None:
        return Direct(cap.append(caption, f"tinted {colour}"), [colour])
    if x in cap.REFERS_TO_IMAGE and MEDIUM.match(caption):  # "a photo of ...": a tint
        return Direct(cap.append(caption, f"tinted {colour}"), [colour])
    if x in cap.REFERS_TO_IMAGE:
        items, _ = cap.split_items(caption)
        noun = cap.head_noun(items[0]) if items else None
        if noun and noun != "background" and any(w in cap.colours()
                                                 for w in cap.words(items[0])):
            new = cap.recolor(caption, noun, colour)
            if new is not None:
                return Direct(new, [colour, noun])
        return Direct(cap.append(caption, f"tinted {colour}"), [colour])
    noun = cap.head_noun(x)
    if noun and _ambiguous(caption, x, noun):
        return Direct(caption, [colour, noun], f"I could not find which {noun}: the "
                      f"picture has more than one, so say which")
    new = cap.recolor(caption, x, colour)
    if new is None and _names_things(caption) and noun not in {
            *vocabulary().get("body_parts", []), *vocabulary().get("uncountable", [])}:
        return Direct(caption, [colour, noun], f"I could not find \"{noun}\", so I changed nothing")
    if new is None:  # "make her eyes blue": said, though the description did not name them
        new = cap.append(caption, f"with {cap.with_article(f'{colour} {noun}')}")
    return Direct(new, [colour] + ([noun] if noun else []))


def _names_things(caption: str) -> bool:
    """The caption names what the picture shows ("a red circle on white"), so a thing it
    lacks is missing - not "a picture after 12 edits", which names nothing."""
    from lemminflect import getAllLemmas

    plain = {"picture", "photo", "image", "pic", "edit", "edits", "version", "shot", "result"}
    return any(w not in plain and "NOUN" in getAllLemmas(w)
               for w in cap.words(caption) if w.isalpha() and len(w) > 2)


def _ambiguous(caption: str, ref: str, noun: str) -> bool:
    """The caption names `noun` more than once and `ref` says nothing else the caption has
    ("make his tie green" on "... a blue tie, ... a red tie")."""
    if len(re.findall(rf"\b{re.escape(noun)}s?\b", caption, re.IGNORECASE)) < 2:
        return False
    others = set(cap.words(ref)) - {noun} - PRONOUNS - cap.ARTICLES - {"his", "her", "their",
                                                                       "its", "the", "other"}
    return not others & set(cap.words(caption))


def subject(caption: str) -> str | None:
    """The thing a caption is about: 'a product photo of a white sneaker on ...' -> 'sneaker'."""
    items, _ = cap.split_items(MEDIUM.sub("", caption, count=1))
    return cap.head_noun(items[0]) if items else None


def positive(adjective: str) -> str:
    """'darker' -> 'dark', 'bigger' -> 'big', 'curlier' -> 'curly'; other words unchanged."""
    a = adjective.lower()
    if not a.endswith("er") or len(a) < 5 or cap.category(a):
        return adjective
    for base in (a[:-3] + "y" if a.endswith("ier") else None, a[:-2], a[:-1],
                 a[:-3] if len(a) > 5 and a[-3] == a[-4] else None):
        if base and cap.category(base):
            return base
    if len(a) > 5 and a[-3] == a[-4]:
        return a[:-3]  # "bigger" -> "big"
    return a[:-3] + "y" if a.endswith("ier") else a[:-2]
