"""Requests said the way people say them, read as the planner's direct rules expect, and
the rules for changes the first table does not cover.

restate(clause) -> (clause, dropped): "the strap should be a metal bracelet" -> "replace
the strap with a metal bracelet", "i want a red hat" -> "add a red hat", "put the blue
bandana on him instead of the red" -> "put the blue bandana on him", "he looks bored"
(a remark about the picture, not a change) -> dropped.

MORE_RULES (tried before agent/planning/rules.py's RULES, same contract): "X instead of Y"
/ "X not Y", a new medium ("turn it into a low poly illustration"), a new place ("make it
a busy london street"), emptying a place ("empty the street"), an action ("make him
jump", "have the cyclist glance backwards", "make the dog look back at the camera").
"""

from __future__ import annotations

import functools
import re

from agent.planning import captions as cap
from agent.planning import places
from agent.planning.recipes import MEDIUM, find_recipe, person
from agent.planning.rules import PRONOUNS, Direct
from agent.prompts import alternation, vocabulary

_DET = r"(?:the |his |her |their |its |that |this |my |our |your |all (?:of )?the |all )?"
_MEDIA = (r"(?:illustration|painting|drawing|print|woodcut|woodblock print|engraving|etching|"
          r"lithograph|poster|render|rendering|sketch|still|photo|photograph|artwork|mosaic|"
          r"collage|comic|cartoon|animation|claymation|vector art|pixel art|low poly|picture|"
          r"image|art|piece|portrait)")
_PLACES = (r"(?:street|road|avenue|alley|city|town|village|square|market|beach|forest|park|"
           r"garden|room|kitchen|bedroom|office|studio|cafe|restaurant|bar|station|harbou?r|"
           r"port|island|lake|river|mountain|mountains|jungle|desert|farm|field|library|"
           r"rooftop|bridge|castle|palace|church|temple|stadium|classroom|shop|store|mall|"
           r"warehouse|factory|cave|meadow|valley|countryside|cityscape|skyline)")
_REMARK = re.compile(r"^(?:he|she|it|they|this|that|the \w+)\s+(?:looks?|seems?|is|are|feels?)"
                     r"\s+(?:so\s+|too\s+|kind of\s+|a bit\s+|very\s+)?\w+$", re.IGNORECASE)


def restate(clause: str) -> tuple[str, str]:
    """(the clause as the rules read it, "" or the remark that was dropped)."""
    c = " ".join(clause.split())
    if _REMARK.match(c):
        return "", c
    c = re.sub(r"^(?:can|could|would)\s+(?:we|i|u|you)\s+(?:please\s+)?(?:just\s+)?", "", c,
               flags=re.IGNORECASE)
    # "can the car be red", "could it be summer", "i want it to feel calmer", "it needs
    # more drama": said as the rules read them
    c = re.sub(r"^(?:can|could|would|should)\s+(?P<x>the\s+[\w' -]+?|his\s+[\w' -]+?|her\s+[\w' -]+?)"
               r"\s+be\s+", r"\g<x> should be ", c, flags=re.IGNORECASE)
    c = re.sub(r"^(?:can|could|would)\s+(?P<x>he|she|they)\s+be\s+", r"\g<x> should be ", c,
               flags=re.IGNORECASE)
    c = re.sub(r"^(?:can|could|would)\s+it\s+be\s+", "make it ", c, flags=re.IGNORECASE)
    c = re.sub(r"^(?:i\s+(?:want|need|'d\s+like|would\s+like)\s+it\s+to|it\s+(?:needs|has)\s+to)\s+"
               r"(?:be|look|feel|seem)\s+", "make it ", c, flags=re.IGNORECASE)
    c = re.sub(r"^it\s+needs\s+(?=more\s|less\s|a\s|an\s|some\s)", "", c, flags=re.IGNORECASE)
    c = re.sub(r",?\s+(?:like|about|around|maybe)\s+\d{1,3}(?:\s*(?:years?\s+old|ish|s))?$", "", c,
               flags=re.IGNORECASE)  # "make him older, like 40": the age is a hint
    # "... instead of the red": the rule reads the change; the old value goes with it
    m = re.match(r"^(?P<head>(?:put|give|make|add|turn|change|paint|colou?r|swap|use)\b.+?)\s+"
                 r"(?:instead\s+of|rather\s+than|in\s+place\s+of)\s+.+$", c, re.IGNORECASE)
    if m:
        c = m.group("head")
    # "i want a red hat", "make a version with a cat", "give me some fog"
    m = re.match(r"^(?:i\s+(?:want|need|would\s+like|'d\s+like)|i'd\s+like|give\s+me|"
                 r"(?:make|do|create|try)\s+(?:a|one)\s+(?:version|take|variant)\s+with|"
                 r"(?:a|one)\s+version\s+with)\s+(?P<x>(?:a|an|some|more|another)\s+.+)$", c,
                 re.IGNORECASE)
    if m:
        c = f"add {m.group('x')}"
    # "the river shouldn't be frozen": the word goes
    m = re.match(r"^(?:the\s+)?(?P<x>[\w' -]+?)\s+(?:shouldn'?t|should\s+not|mustn'?t|must\s+not|"
                 r"isn'?t\s+supposed\s+to|doesn'?t\s+need\s+to)\s+be\s+(?P<y>[\w-]+)$", c,
                 re.IGNORECASE)
    if m:
        return f"unmake the {m.group('x')} {m.group('y')}", ""
    c = re.sub(r"\b(?:someone|somebody|a person)'s\b", "a person's", c, flags=re.IGNORECASE)
    # "the strap should be a metal bracelet", "dog should be a fox", "sky should be pink"
    m = re.match(r"^(?:the\s+|his\s+|her\s+|its\s+)?(?P<x>[\w' -]+?)\s+(?:should|must|needs?\s+to|"
                 r"has\s+to|ought\s+to|could|would\s+look\s+better\s+if\s+it\s+was)\s+be\s+"
                 r"(?P<y>.+)$", c, re.IGNORECASE)
    if m and m.group("x").lower() not in PRONOUNS | {"it", "this", "that", "everything"}:
        y = m.group("y")
        y = re.sub(r",?\s+(?:not|rather\s+than|instead\s+of)\s+(?:the\s+)?[\w -]+$", "", y,
                   flags=re.IGNORECASE)  # "... should be yellow not blue": the rule drops blue
        if re.match(r"^(?:a|an|some)\s", y, re.IGNORECASE):
            c = f"replace the {m.group('x')} with {y}"
        else:
            c = f"make the {m.group('x')} {y}"
    return _plain(c), ""


_COMPARATIVE = {"bluer": "blue", "greener": "green", "redder": "red", "whiter": "white",
                "yellower": "yellow", "pinker": "pink", "blacker": "black", "greyer": "grey"}
_THING = r"(?:the\s+|his\s+|her\s+|its\s+|their\s+)?(?P<x>[a-z][\w'-]*(?:\s+(?!in\b)[a-z][\w'-]*)?)"
_OWN = r"(?P<x>(?:the|that|this|those|these|his|her|its|their)\s+[\w' -]+?)"


def _plain(c: str) -> str:
    """Short ways of saying a change, said as the rules read them: "laces yellow",
    "headphones in rose gold", "kettle -> red enamel" -> "make the laces yellow";
    "bluer sea" -> "make the sea blue"; "get the fence out of the shot" -> "remove the
    fence"; "make the dog a golden retriever" -> "replace the dog with a
    golden retriever"."""
    low = c.lower().strip()
    v = vocabulary()
    hue = alternation([*cap.colours(), *v.get("colour_shades", []), *v.get("hair_colours", []),
                       *v["attributes"].get("material", [])])
    finish = alternation([*v["attributes"].get("material", []), "enamel", "velvet", "finish",
                          "gloss", "matte", "paint"])
    m = re.match(rf"^{_THING}\s+(?:in\s+|->\s*|=\s*|:\s*)?(?P<y>(?:[a-z-]+\s+)?(?:{hue})"
                 rf"(?:\s+(?:{finish}))?)$", low)
    verbs = {*v["edit_verbs"], *v["clause_verbs"], *v.get("removal_verbs", [])}
    if m and m.group("x") not in PRONOUNS | {"it"} and low.split()[0] not in verbs and \
            _noun(m.group("x").split()[-1]) and not re.fullmatch(hue, m.group("x").split()[-1]):
        return f"make the {m.group('x')} {m.group('y')}"
    m = re.match(rf"^(?:make\s+)?(?:(?P<c1>{'|'.join(_COMPARATIVE)})\s+{_THING}|{_THING.replace('x>', 'x2>')}"
                 rf"\s+(?P<c2>{'|'.join(_COMPARATIVE)}))$", low)
    if m:
        x = m.group("x") or m.group("x2")
        return f"make the {x} {_COMPARATIVE[m.group('c1') or m.group('c2')]}"
    m = re.match(rf"^(?:get|take|move)\s+{_OWN}\s+(?:out|off|away)(?:\s+(?:of|from)\s+(?:the\s+)?"
                 r"(?:shot|picture|photo|pic|image|frame|scene|there|here))?$", low)
    if m:
        return f"remove {m.group('x')}"
    m = re.match(r"^(?:make|turn)\s+(?P<x>(?:the|that|this|those|these)\s+[\w' -]+?)\s+(?:into\s+)?"
                 r"(?P<y>(?:a|an)\s+[\w' -]+)$", low)
    if m and not {"into", "wear", "hold", "have", "look", "be"} & set(m.group("x").split()) and \
            cap.words(m.group("y"))[-1] not in {*cap.colours(), *v.get("colour_shades", [])}:
        return f"replace {m.group('x')} with {m.group('y')}"
    return c


def instead_of(low: str, caption: str) -> Direct | None:
    """"gold watch instead of silver", "brick wall instead of stone", "marble not wood"."""
    m = re.match(r"^(?:make\s+it\s+|use\s+|i\s+want\s+)?(?:an?\s+|the\s+)?(?P<y>[\w' -]+?)\s+"
                 r"(?:instead\s+of|rather\s+than|in\s+place\s+of|not|and\s+not)\s+(?:the\s+|an?\s+)?"
                 r"(?P<x>[\w' -]+)$", low)
    if not m:
        return None
    x, y = m.group("x").strip(), m.group("y").strip()
    xw, yw = cap.words(x), cap.words(y)
    if not xw or not yw or yw[0] in set(vocabulary()["edit_verbs"]) or len(xw) > 4:
        return None
    found = re.search(rf"\b{re.escape(x)}\b", caption, re.IGNORECASE)
    if found and len(xw) == 1 and len(yw) <= 3 and _modifier(xw[0]):
        # the old word is a modifier in the caption ("silver wristwatch"): put the new one
        new_word = yw[0] if len(yw) > 1 and cap.head_noun(y) and cap.head_noun(y) in \
            caption.lower() else (yw[0] if len(yw) == 1 else " ".join(yw[:-1]) or yw[0])
        if len(yw) > 1 and not re.search(rf"\b{re.escape(yw[-1])}\b", caption, re.IGNORECASE):
            new_word = yw[0] if cap.category(yw[0]) else new_word
        new = caption[: found.start()] + new_word + caption[found.end():]
        return Direct(cap.fix_articles(new), [new_word])
    new = cap.replace_object(caption, x, y)
    if new is not None:
        return Direct(new, [cap.head_noun(y) or yw[-1]])
    return None


def _noun(word: str) -> bool:
    """A word that can name a thing ("laces", "kettle"; not "cosy")."""
    from lemminflect import getAllLemmas, getAllLemmasOOV

    lemmas = getAllLemmas(word) or getAllLemmasOOV(word, "NOUN")
    return "NOUN" in lemmas or "PROPN" in lemmas


def _modifier(word: str) -> bool:
    """A word that describes a thing ("silver", "stone") rather than names one ("fence")."""
    from lemminflect import getAllLemmas

    if cap.category(word):
        return True
    lemmas = getAllLemmas(word)
    return "ADJ" in lemmas or not lemmas


def restyle(low: str, caption: str) -> Direct | None:
    """"black headphones instead", "a wooden fence": a thing the picture has, described anew;
    "pastel pink background": a new background."""
    m = re.match(r"^(?:an?\s+|the\s+|some\s+)?(?P<p>[\w' -]+?)(?:\s+instead)?$", low)
    if not m or (cap.words(m.group("p")) or [""])[0] in set(vocabulary()["edit_verbs"]):
        return None
    phrase = m.group("p")
    ws = cap.words(phrase)
    if len(ws) < 2 or len(ws) > 4:
        return None
    if ws[-1] in ("background", "backdrop") and any(cap.category(w) == "colour" for w in ws):
        where = cap.with_article(" ".join([*ws[:-1], "background"]))
        return Direct(places.set_location(caption, where, "on") if "background" not in
                      caption.lower() else places.set_background(caption, " ".join(ws[:-1])),
                      [ws[-2]])
    if not all(cap.category(w) for w in ws[:-1]):
        return None  # only describing words before the thing
    from agent.planning.rules import give_attribute

    return give_attribute(caption, phrase)


def medium(low: str, caption: str) -> Direct | None:
    """"turn it into a low poly illustration", "make it look like a japanese woodblock print":
    the picture's medium changes; its content stays."""
    m = re.match(rf"^(?:turn|make|convert|transform|render|redo|redraw|change|do)\s+(?:it|this|"
                 rf"the\s+(?:whole\s+)?(?:image|picture|photo|scene|thing))\s+(?:into|to|as|"
                 rf"look\s+like|like|in\s+the\s+style\s+of)\s+(?P<m>(?:an?\s+)?[\w' -]*?"
                 rf"\b{_MEDIA})$|^(?P<m2>(?:an?\s+)?[\w' -]+\s+{_MEDIA})(?:\s+style)?$", low)
    if not m:
        return None
    phrase = cap.strip_article(m.group("m") or m.group("m2"))
    if (cap.words(phrase) or [""])[0] in set(vocabulary()["edit_verbs"]) or \
            len(cap.words(phrase)) < 2 or re.search(r"\b(?:photo|photograph|picture|image)$",
                                                    phrase):
        return None  # "a 1970s photo" is a look (a recipe), not a medium
    recipe = find_recipe(phrase)
    if recipe is not None and any(st.get("medium") for st in recipe.get("steps", [])):
        return None  # "a watercolor painting", "an anime still": the recipe knows the medium
    rest = MEDIUM.sub("", caption, count=1)
    new = cap.fix_articles(f"{cap.with_article(phrase)} of {rest}")
    return Direct(new, cap.words(phrase)[-1:])


def place(low: str, caption: str) -> Direct | None:
    """"make it a busy london street", "set it in a snowy forest": a new place."""
    m = re.match(rf"^(?:make|turn|change)\s+(?:it|the\s+(?:scene|setting|place|location))\s+"
                 rf"(?:into\s+)?(?P<p>(?:an?\s+|the\s+)[\w' -]*?\b{_PLACES})$"
                 rf"|^(?:set|place|put|move)\s+(?:it|everything|the\s+scene)\s+(?:in|on|at)\s+"
                 rf"(?P<p2>(?:an?\s+|the\s+)?[\w' -]*?\b{_PLACES})$", low)
    if not m:
        return None
    where = m.group("p") or m.group("p2")
    return Direct(places.set_location(caption, where), cap.words(where)[-1:])


def empty(low: str, caption: str) -> Direct | None:
    """"empty the street", "nobody around", "no people": the people go."""
    if not re.match(r"^(?:empty|clear)\s+(?:out\s+)?(?:the\s+)?\w+(?:\s+of\s+people)?"
                    r"(?:,?\s*(?:nobody|no\s+one|no\s+people)[\w ]*)?$|"
                    r"^(?:nobody|no\s+one|no\s+people|no\s+crowd|without\s+people)"
                    r"(?:\s+(?:around|there|in\s+it|at\s+all))?$", low):
        return None
    crowd = next((w for w in ("people", "crowd", "shoppers", "pedestrians", "tourists",
                              "person") if re.search(rf"\b{w}\b", caption, re.IGNORECASE)), None)
    if crowd is None:
        return None
    new = cap.remove(caption, crowd)
    if new is None or new == caption:
        return None
    return Direct(cap.append(new, "empty, no people") if "empty" not in new else new, ["empty"])


def action(low: str, caption: str) -> Direct | None:
    """"make him jump", "have the cyclist glance backwards", "make the dog look back at the
    camera": the named one (or the caption's subject) does it."""
    if cap.category(cap.words(low)[-1] if cap.words(low) else ""):
        return None  # "make the watch face blue": an attribute, not an action
    m = re.match(rf"^(?:make|have|let|get)\s+(?:(?P<p>him|her|them|it)|{_DET}(?P<x>[\w-]+(?:\s+"
                 rf"[\w-]+)??))\s+(?P<v>[a-z]+)(?P<rest>(?:\s+.+)?)$", low)
    if not m or m.group("v") == "look" and not _DIRECTIONS.match(m.group("rest") or ""):
        return None
    verb = m.group("v")
    rest = (m.group("rest") or "").strip()
    if verb in ("both", "all"):  # "make them both laugh"
        verb, _, rest = rest.partition(" ")
    ing = _participle(verb)
    if ing is None or (m.group("x") or "") in cap.REFERS_TO_IMAGE or find_recipe(verb):
        return None
    who = m.group("x") or (person(caption) or _subject(caption) if m.group("p") else None)
    if who is None:
        return None
    if ing in _EXPRESSIONS and not rest:
        new = cap.set_attribute(caption, who, ing)
        return Direct(new, [ing]) if new is not None else None
    items, seps = cap.split_items(caption)
    i = cap.find_item(items, who)
    if i is None:
        return None
    item = items[i]
    iw = cap.words(item)
    noun = cap.head_noun(who) or who
    n = next((k for k, w in enumerate(iw) if w in (noun, noun + "s")), None)
    if n is None:
        return None
    phrase = f"{ing} {rest}".strip()
    spans = [mm.span() for mm in re.finditer(r"[a-z0-9][a-z0-9'-]*", item.lower())]
    after = n + 1
    if after < len(iw) and iw[after].endswith("ing") and cap.category(iw[after]) is None:
        a, b = spans[after]  # "dog running through ...": the new action takes its place
        items[i] = item[:a] + (phrase if rest else ing) + item[b:]
    else:
        b = spans[n][1]
        items[i] = item[:b] + f" {phrase}" + item[b:]
    return Direct(cap.join_items(items, seps), [ing])


def head_turn(low: str, caption: str) -> Direct | None:
    """"turn his head back toward the sea": a pose, kept on the subject."""
    m = re.match(r"^(?:turn|tilt|raise|lower|bow|point)\s+(?P<pos>his|her|its|their|the)\s+"
                 r"(?P<part>head|face|body|eyes|gaze|nose|ears|tail)\s+(?P<rest>.+)$", low)
    if not m:
        return None
    verb = {"turn": "turned", "tilt": "tilted", "raise": "raised", "lower": "lowered",
            "bow": "bowed", "point": "pointed"}[low.split()[0]]
    pos = m.group("pos") if m.group("pos") != "the" else "its"
    return Direct(cap.append(caption, f"with {pos} {m.group('part')} {verb} {m.group('rest')}"),
                  [m.group("part")])


def unmake(low: str, caption: str) -> Direct | None:
    """"the river shouldn't be frozen" (restated "unmake the river frozen"): the word goes."""
    m = re.match(r"^unmake\s+the\s+(?P<x>[\w' -]+?)\s+(?P<y>[\w-]+)$", low)
    if not m:
        return None
    w = re.search(rf"\b{re.escape(m.group('y'))}\s+(?=(?:[\w-]+\s+){{0,2}}{re.escape(m.group('x'))})",
                  caption, re.IGNORECASE)
    if w is None:
        return Direct(caption, [], f"the description does not say the {m.group('x')} is "
                                   f"{m.group('y')}")
    return Direct(cap.fix_articles(caption[: w.start()] + caption[w.end():]), [])


def more_of(low: str, caption: str) -> Direct | None:
    """"more cacti": the one there becomes several."""
    m = re.match(r"^(?:add\s+)?(?:more|extra|lots\s+more)\s+(?P<x>[a-z][\w-]+)$", low)
    if not m:
        return None
    from agent.planning.captions import _inflect

    plural = m.group("x")
    single = _inflect().singular_noun(plural) or plural
    new = cap.replace_object(caption, single, f"several {plural}")
    return Direct(new, [plural]) if new is not None else None


def recipe_rest(clause: str, recipe: dict, target: str) -> str:
    """What a wish says beyond its recipe's keyword ("snowy christmas eve with lights in the
    windows": "christmas eve with lights in the windows"), said as a caption phrase, or ""."""
    low = " " + clause.lower() + " "
    found = [(m.start(), -len(kw), kw) for kw in (str(k).lower() for k in recipe.get("keywords", []))
             for m in [re.search(rf"(?<![\w-]){re.escape(kw)}(?![\w-])", low)] if m]
    if found:  # the keyword the recipe was found by (the earliest, the longest on a tie)
        kw = min(found)[2]
        low = re.sub(rf"(?<![\w-]){re.escape(kw)}(?![\w-])", " , ", low, count=1)
    low = re.sub(r"^\s*(?:make|turn|give|change|set)\s+(?:it|the\s+(?:image|picture|photo|"
                 r"scene))\s+(?:into\s+|to\s+|a\s+|an\s+)?", " ", low)
    low = re.sub(r",?\s*\blike\s+(?:a|an|the|in)\s+[^,]+", " ", low)  # comparisons go
    low = re.sub(r"\b(?:look|style|vibe|vibes|feel|effect|filter|please|and|more|very|"
                 r"really|super|heavy|light|a|an|some|the)\b", " ", low)
    parts = [" ".join(p.split()) for p in low.split(",")]
    parts = [p for p in parts if p and re.search(r"[a-z]{3,}", p)
             and not re.match(r"^(?:no|not|without|nobody|nothing)\b", p)
             and not re.search(rf"\b{re.escape(p)}\b", target.lower())
             and (p.split() or [""])[0] not in set(vocabulary()["edit_verbs"])]
    return ", ".join(parts)


MORE_RULES = (unmake, more_of, instead_of, restyle, medium, place, empty, head_turn, action)


def _subject(caption: str) -> str | None:
    items, _ = cap.split_items(MEDIUM.sub("", caption, count=1))
    return cap.head_noun(items[0]) if items else None


@functools.lru_cache(maxsize=2048)
def _participle(verb: str) -> str | None:
    """'jump' -> 'jumping' for a verb that is an action, not an edit or a state."""
    from lemminflect import getAllLemmas, getInflection

    if verb in _NOT_ACTIONS or verb in set(vocabulary()["edit_verbs"]) or cap.category(verb):
        return None
    lemmas = getAllLemmas(verb)
    if "VERB" not in lemmas or verb not in lemmas["VERB"]:
        return None
    if "ADJ" in lemmas and "NOUN" not in lemmas:
        return None
    forms = getInflection(verb, tag="VBG")
    return forms[0] if forms else None


_NOT_ACTIONS = frozenset("""
be have do wear hold seem feel appear become get go come smile grin older younger bigger
smaller brighter darker rain snow storm shine pop stand sit pose
""".split())  # noqa: SIM905 - a word list (smiles are recipes: "make him smile")
_EXPRESSIONS = {"laughing", "crying", "frowning", "winking", "smiling", "grinning"}
_DIRECTIONS = re.compile(r"^\s+(?:back|at|up|down|toward|towards|away|into|out|over|around|"
                         r"left|right|behind|straight|ahead|sideways)\b")
