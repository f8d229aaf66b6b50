"""OfflinePlanner: turns a request into an EditPlan with rules and the recipes in prompts/.

Direct instructions ("make the car red", "replace the dog with a cat", "add a hat",
"remove the glasses", "move the circle to the top left", "make the background blue")
rewrite the caption item they name; vague wishes ("more vintage", "winter") use the
multi-step recipes of prompts/recipes.yaml. Several clauses ("make the circle blue
and add a hat") become several steps, at most four.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent import ops
from agent.planning import captions as cap
from agent.planning.plan import MAX_STEPS, EditPlan, EditStep
from agent.planning.safe import EXAMPLES, PlanningError, quote
from agent.prompts import recipes, vocabulary

_MAX_PROMPT = 600  # EditStep.target_prompt max_length
_PRONOUNS = {"her", "him", "them", "she", "he", "they", "me", "us"}
_IMAGE_LEVEL = re.compile(
    r"^(?:(?:make|turn|change|convert|transform|render|give|set|switch)\s+)?(?:it|this|that|"
    r"the (?:whole )?(?:image|picture|photo|pic|scene|shot)|everything)\b", re.IGNORECASE)
_TRAILING = re.compile(r"(?:[\s,]+(?:please|pls|plz|thanks|thank you|thx|for me|if you can|"
                       r"if possible|now|too|as well))+$", re.IGNORECASE)

_LEADS = re.compile(
    r"^(?:(?:ok(?:ay)?|now|next|also|and|then|please|pls|hey|so|great|nice|cool|good)[,!.]?\s+)*"
    r"(?:(?:can|could|would|will) you\s+|i(?:'d| would) like (?:you )?to\s+|i want (?:you )?to\s+"
    r"|let's\s+|lets\s+|try to\s+|try\s+(?=to\b)|go ahead and\s+)?(?:please\s+)?",
    re.IGNORECASE,
)


@dataclass
class PlanResult:
    """A plan and who made it; notes are told to the user (e.g. a fallback)."""

    plan: EditPlan
    planner: str
    notes: list[str] = field(default_factory=list)


def _alt(options) -> str:
    return "|".join(re.escape(o) for o in sorted(options, key=len, reverse=True))


def clean_request(text: str) -> str:
    text = " ".join(text.strip().split())
    text = text.rstrip("?!. ")
    text = re.sub(r"^(?:no|nope|nah|hmm+|ok(?:ay)?)[,.!]+\s*", "", text, flags=re.IGNORECASE)
    text = _TRAILING.sub("", text).rstrip("?!.,: ")
    return _LEADS.sub("", text).strip()


def split_clauses(text: str) -> list[str]:
    """'make the circle blue and the square red, then add a hat' -> three clauses."""
    verbs = _alt(vocabulary()["edit_verbs"])
    parts = re.split(rf"\s*(?:;|\.\s+|,?\s+(?:and\s+)?then\s+|,?\s+and\s+(?=(?:{verbs})\b)"
                     rf"|,\s+(?=(?:{verbs})\b))\s*", text, flags=re.IGNORECASE)
    out: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        # "make the circle blue and the square red": the second clause borrows the verb.
        m = re.match(r"^((?:make|paint|colou?r|turn)\s+)(.+?)\s+and\s+(the\s+.+)$", part, re.IGNORECASE)
        if m and re.search(rf"\b(?:{_alt(cap.colours())}|{_alt(cap.size_words())})$", m.group(3)):
            out += [m.group(1) + m.group(2), m.group(1) + m.group(3)]
        else:
            out.append(part)
    return out


def _strength_of(clause: str) -> tuple[str, float]:
    v = vocabulary()
    low = clause.lower()
    strength = 0.5
    for w in v["softer"]:
        if re.search(rf"\b{re.escape(w)}\b", low):
            strength = 0.3
    for w in v["stronger"]:
        if re.search(rf"\b{re.escape(w)}\b", low):
            strength = 0.75
    words = _alt(v["softer"] + v["stronger"])
    clause = re.sub(rf"\b(?:{words})\b\s*", "", clause, flags=re.IGNORECASE).strip()
    return " ".join(clause.split()), strength


@dataclass
class _Step:
    instruction: str
    target: str
    focus: list[str]
    strength: float
    kind: str = "edit"
    op: str = ""


class OfflinePlanner:
    """Rules + recipes; needs no model and answers in microseconds."""

    name = "offline"

    def plan(self, request: str, caption: str, history: Sequence[str] = ()) -> PlanResult:
        raw, request = request, clean_request(request)
        if not request:
            raise PlanningError(f"{quote(raw)} asks for no change I can see; try {EXAMPLES}.")
        current = caption.strip()
        steps: list[_Step] = []
        notes: list[str] = []
        summaries: list[str] = []
        for clause in split_clauses(request):
            if not re.search(r"[^\W\d_]", clause) or clause.lower() in ("and", "then", "also"):
                continue  # no words: nothing to plan in this part
            new_steps, summary, note = self._clause(clause, current)
            for s in new_steps:
                steps.append(s)
                current = s.target
            if summary:
                summaries.append(summary)
            if note:
                notes.append(note)
        if not steps:
            raise PlanningError(f"I found no change to make in {quote(raw)}; try {EXAMPLES}.")
        if len(steps) > MAX_STEPS:
            notes.append(f"The request needs {len(steps)} steps; I kept the first {MAX_STEPS}.")
            steps = steps[:MAX_STEPS]
        if any(len(s.target) > _MAX_PROMPT for s in steps):
            raise PlanningError(f"the image description would grow past {_MAX_PROMPT} characters "
                                f"with {quote(raw)}; shorten the description (\"the image shows "
                                "...\") or the request.")
        plan = EditPlan(
            # an exact operation on an image with no caption yet keeps a neutral one
            steps=[EditStep(instruction=s.instruction[:300], target_prompt=s.target.strip() or "a picture",
                            focus_words=s.focus, strength=s.strength, kind=s.kind, op=s.op)
                   for s in steps],
            summary=" ".join(summaries)[:300],
        )
        return PlanResult(plan, self.name, list(dict.fromkeys(notes)))

    # -- one clause -> steps ---------------------------------------------------------

    def _clause(self, clause: str, caption: str) -> tuple[list[_Step], str, str | None]:
        clause, strength = _strength_of(clause)
        # "try a red scarf" after a rollback means "add a red scarf"
        clause = re.sub(r"^try\s+(?:adding\s+|putting\s+(?:on\s+)?|with\s+)?(?=(?:a|an|some)\s)",
                        "add ", clause, flags=re.IGNORECASE)
        clause = re.sub(r"\s+instead$", "", clause, flags=re.IGNORECASE)
        # "make her look older" / "make it look like a painting" -> "make her older"
        clause = re.sub(r"^(make|let)\s+(\S+)\s+(?:look|seem|appear|feel)\s+(?!like\b)",
                        r"\1 \2 ", clause, flags=re.IGNORECASE)
        # "she should be wearing a hat" / "he's holding a cup" -> "make her wear a hat"
        m = re.match(r"^(she|he|they)(?:'s|'re|\s+is|\s+are|\s+should|\s+could|\s+must|\s+needs? to|"
                     r"\s+has to|\s+have to|\s+will)?(?:\s+be)?\s+(wear(?:ing|s)?|hold(?:ing|s)?|"
                     r"ha(?:ve|s))\s+(.+)$", clause, re.IGNORECASE)
        if m:
            obj = {"she": "her", "he": "him", "they": "them"}[m.group(1).lower()]
            verb = {"w": "wear", "h": "hold" if m.group(2).lower().startswith("hold") else "have"}[
                m.group(2)[0].lower()]
            clause = f"make {obj} {verb} {m.group(3)}"
        clause = re.sub(r"\s+(?:style|look|effect|filter|vibes?|aesthetic)$", "", clause,
                        flags=re.IGNORECASE) or clause
        instruction = clause[:1].upper() + clause[1:]
        op = ops.parse_request(clause)
        if op is not None:
            op = ops.parse(str(op))  # OpError (a polite ValueError) for sizes out of range
            return ([_Step(op.describe(), ops.caption_after(caption, op), [], strength, "op",
                           str(op))],
                    "", "This is an exact operation (done with PIL, not by the diffusion model).")
        recipe = self._recipe(clause)
        if recipe is not None and (_IMAGE_LEVEL.match(clause) or not _has_verb(clause)):
            return self._apply_recipe(recipe, caption, strength), recipe.get("summary", ""), None
        direct = self._direct(clause, caption)
        if direct is not None:
            target, focus, *rest = direct
            note = rest[0] if rest else None
            if note is None and target == caption:
                note = (f"The description already says that (\"{caption}\"), so this step may "
                        "change little.")
            return [_Step(instruction, target, focus, strength)], "", note
        if recipe is not None:
            return self._apply_recipe(recipe, caption, strength), recipe.get("summary", ""), None
        target, focus = self._generic(clause, caption)
        note = (f"I had no rule for \"{clause}\", so I added it to the image description; "
                "an LLM planner (see the README) understands more.")
        return [_Step(instruction, target, focus, strength)], "", note

    def _recipe(self, clause: str) -> dict | None:
        """The recipe whose keyword starts earliest in the clause (the longest on a tie)."""
        low = clause.lower()
        best, best_key = None, None
        for name, kw, pattern in _keyword_patterns():
            m = pattern.search(low)
            key = m and (m.start(), -len(kw))
            if m and (best_key is None or key < best_key):
                best, best_key = dict(recipes()[name], name=name), key
        return best

    def _apply_recipe(self, recipe: dict, caption: str, strength: float) -> list[_Step]:
        scale = strength / 0.5
        out, current = [], caption
        for k, step in enumerate(recipe["steps"]):
            group = step.get("group") or (recipe.get("group") if k == 0 else None)
            target = current
            if group:
                target = _drop_phrases(target, cap.groups().get(group, []))
            if step.get("medium"):
                target = _set_medium(target, step["medium"])
            target = cap.replace_phrases(target, step.get("replace") or {})
            placed = False
            for noun, adjective in (step.get("attributes") or {}).items():
                ref = _person(target) if noun == "person" else noun
                if ref and re.search(rf"\b{re.escape(ref)}\b", target, re.IGNORECASE):
                    new = cap.set_attribute(target, ref, adjective)
                    if new is not None:
                        placed = placed or new != target or adjective in cap.words(target)
                        target = new
            if not placed:
                target = cap.append(target, step.get("add", ""))
            s = min(1.0, max(0.05, float(step.get("strength", 0.5)) * scale))
            out.append(_Step(step["instruction"], target, list(step.get("focus", [])), round(s, 3)))
            current = target
        if current == caption:  # asked again ("even more vintage"): push the same way
            word = str(recipe["keywords"][0])
            target = cap.append(caption, f"even more {word}")
            s = min(1.0, 0.6 * scale)
            return [_Step(f"Make it even more {word}", target, [word.split()[-1]], round(s, 3))]
        return out

    def _direct(self, clause: str, caption: str) -> tuple | None:
        """(target, focus words[, note]) for a change to a named thing, else None."""
        colours = _alt(cap.colours())
        sizes = _alt(cap.size_words())
        positions = _alt(cap.positions())
        low = clause.lower()
        det = r"(?:the |his |her |their |its |that |this |my |our |your )?"
        pron = r"(?:her|him|them|it|me|us|she|he|they)"

        # background
        m = re.match(rf"^(?:make|change|turn|set|paint|colou?r|switch|replace)\s+{det}"
                     rf"(?:background|backdrop|scenery|setting)\s+(?:colou?r\s+)?"
                     rf"(?:to\s+|into\s+|in\s+|with\s+)?(?P<y>.+)$", low)
        if m:
            y = re.sub(r"\s+(?:colou?r|one)$", "", m.group("y"))
            new = cap.set_background(caption, y)
            focus = [w for w in cap.words(y) if w in cap.colours()] or cap.words(y)[-1:]
            return new, focus + (["background"] if "background" in cap.words(new) else [])

        # remove
        m = re.match(rf"^(?:remove|erase|delete|take (?:off|away|out)|get rid of|drop|lose|"
                     rf"clear|hide|cut out|eliminate)\s+(?:all (?:of )?)?{det}(?P<x>.+?)"
                     rf"(?:\s+(?:from|in|on|off)\s+(?:the (?:image|picture|photo|scene|"
                     rf"background)|{pron}|it))?$", low) or re.match(
            rf"^(?:take)\s+{det}(?P<x>.+?)\s+(?:off|away|out)$", low) or re.match(
            rf"^(?:without|no more|no)\s+{det}(?P<x>.+)$", low)
        if m:
            x = m.group("x")
            if x in _PRONOUNS or x in cap.REFERS_TO_IMAGE:
                return None
            new = cap.remove(caption, x)
            if new is None or new == caption:
                return caption, [], (
                    f"I could not find \"{cap.strip_article(x)}\" in the description "
                    f"(\"{caption}\"), so I left the description as it is and this step may "
                    "change little.")
            return new, []

        # move: "move the circle to the top left" / "... at the top left"
        bare = {re.sub(r"^(?:at|on|in)\s+", "", p): p for p in cap.positions()}
        m = re.match(rf"^(?:move|put|place|shift|push)\s+{det}(?P<x>.+?)\s+(?:to\s+|over to\s+)?"
                     rf"(?P<pos>{positions})$", low) or re.match(
            rf"^(?:move|put|place|shift|push)\s+{det}(?P<x>.+?)\s+(?:over\s+)?(?:to(?:ward)?s?\s+)"
            rf"(?P<pos>{_alt(bare)})$", low)
        if m and m.group("x") not in _PRONOUNS:
            pos = bare.get(m.group("pos"), m.group("pos"))
            new = cap.move(caption, m.group("x"), pos)
            if new is not None:
                return new, cap.words(pos)[-1:]

        # a new place: "put her on the moon", "take him to the beach"
        subject = _subject(caption)
        things = _alt({"subject", "product", *cap.people(), *([subject] if subject else [])})
        m = re.match(rf"^(?:put|place|move|send|take|bring|set|transport|teleport|show)\s+"
                     rf"(?:{pron}|{det}(?:{things}))\s+"
                     rf"(?P<prep>on|in|at|into|onto|to|under|inside|near|by|next to|in front of|"
                     rf"underwater|under water|in the middle of)\b\s*(?P<where>.*)$", low)
        if m:
            prep = m.group("prep")
            where = m.group("where").strip()
            if prep in ("underwater", "under water"):
                where, prep = "water", "under"
            if where:
                if prep in ("to", "into", "onto"):
                    prep = None
                new = cap.set_location(caption, where, prep)
                return new, cap.words(where)[-1:]

        # replace / transform: "replace X with Y", "turn X into Y", "change X to Y"
        m = re.match(rf"^(?:replace|swap|exchange|substitute)\s+{det}(?P<x>.+?)\s+(?:with|for|by)\s+"
                     rf"(?P<y>.+)$", low) or re.match(
            rf"^(?:change|turn|transform|convert|make)\s+{det}(?P<x>.+?)\s+(?:in)?to\s+"
            rf"(?P<y>.+)$", low)
        if m:
            x, y = m.group("x"), re.sub(r"\s+(?:colou?r|instead)$", "", m.group("y"))
            x = re.sub(r"\s+colou?r$", "", x)  # "change her hair colour to black"
            x = re.sub(r"^colou?r of\s+(?:the |her |his |their |its )?", "", x)
            yw = cap.words(y)
            if x in cap.REFERS_TO_IMAGE or not yw:
                return None  # "turn it into a watercolor": a style, not an object swap
            if x in _PRONOUNS:
                person = _person(caption)
                if person is None:
                    return None
                x = person
                if cap.head_noun(y) in set(vocabulary().get("forms", [])):
                    new = cap.replace_object(caption, x, f"{cap.strip_article(y)} of a {x}")
                    if new is not None:
                        return new, [cap.head_noun(y)]
            if len(yw) == 1 and yw[0] in cap.colours():
                return self._recolor(caption, x, yw[0])
            if len(yw) == 1 and yw[0] in cap.size_words():
                new = cap.resize(caption, x, yw[0])
                if new is not None:
                    return new, [cap.size_words()[yw[0]]]
            if len(yw) == 1 and cap.category(yw[0]) is not None:
                new = cap.set_attribute(caption, x, yw[0])
                if new is not None:
                    return new, yw
            new = cap.replace_object(caption, x, y)
            if new is None:
                if self._recipe(y) is not None:
                    return None
                new = cap.append(caption, f"with {cap.with_article(y)}")
                return new, [cap.head_noun(y) or yw[-1]], (
                    f"I could not find \"{cap.strip_article(x)}\" in the description, so I "
                    f"added {cap.with_article(y)} instead.")
            return new, [cap.head_noun(y) or yw[-1]]

        # recolour: "make the car red", "paint the circle on the left blue"
        m = re.match(rf"^(?:make|paint|colou?r|recolou?r|turn|dye|change)\s+{det}(?P<x>.+?)\s+"
                     rf"(?:to\s+)?(?P<y>{colours})(?:\s+colou?r(?:ed)?)?(?:\s+with\s+(?P<w>.+))?$",
                     low)
        if m and (m.group("x") not in _PRONOUNS or m.group("y") in vocabulary().get(
                "hair_colours", [])):
            new, focus = self._recolor(caption, m.group("x"), m.group("y"))
            if m.group("w"):  # "make the sneaker black with white soles"
                new = cap.append(new, f"with {cap.with_article(m.group('w'))}")
            return new, focus

        # resize: "make the circle bigger", "enlarge the square"
        m = re.match(rf"^make\s+{det}(?P<x>.+?)\s+(?:much\s+)?(?P<y>{sizes})$", low)
        if m or (m := re.match(rf"^(?P<v>enlarge|shrink|grow)\s+{det}(?P<x>.+)$", low)):
            y = m.groupdict().get("y") or ("small" if m.group("v") == "shrink" else "large")
            if m.group("x") not in cap.REFERS_TO_IMAGE and m.group("x") not in _PRONOUNS:
                new = cap.resize(caption, m.group("x"), y)
                if new is not None:
                    return new, [cap.size_words()[y]]

        # add: "add a hat", "put a hat on the dog", "give the dog a hat", "add a cat next to her"
        m = re.match(rf"^give\s+(?:(?:him|her|them|it)\s+|{det}(?P<who>[\w-]+)\s+)(?P<y>.+)$", low)
        m = m or re.match(rf"^(?:make|let|have)\s+(?:him|her|them|it|{det}(?P<who>[\w-]+))\s+"
                          rf"(?:wear|put on|try on|have|hold)\s+(?P<y>.+)$", low)
        holding = bool(m) and re.search(r"\bhold\b", low) is not None
        if not m:
            m = re.match(rf"^(?:add|put|place|insert|draw|include|show)\s+(?P<y>.+\s(?:{positions}))$",
                         low) or re.match(rf"^(?:add|put|place|insert|draw|include|show)\s+"
                                          rf"(?P<y>.+?)(?:\s+(?:on|onto)\s+{det}(?P<who>[\w-]+"
                                          rf"(?:'s)?(?: head| face| neck)?))?$", low)
        if m:
            y = m.group("y").strip()
            who = m.groupdict().get("who")
            if re.search(rf"\b(?:{_alt(cap.positions())})$", y) or who in (
                    None, "it", "them", "him", "her", "his head", "her head"):
                who = None
            yw = cap.words(y)
            if yw and all(w in _PRONOUNS or w in cap.ARTICLES for w in yw):
                return None
            if who is not None and cap.head_noun(y) not in set(vocabulary()["wearables"]):
                y, who = f"{y} on the {who}", None  # "put a vase on the table"
            if yw and not self._recipe(y):
                changed = self._give_attribute(caption, y)
                if changed is not None:
                    return changed
                if holding:
                    return (cap.append(caption, f"holding {cap.with_article(y)}"),
                            [cap.head_noun(y) or yw[-1]])
                new = cap.add_object(caption, y, who)
                noun = cap.head_noun(y)
                cols = [w for w in yw if w in cap.colours()]
                return new, cols + ([noun] if noun else [])

        # attribute: "make the cat fluffy", "make her hair short"
        m = re.match(rf"^(?:make|turn|change)\s+{det}(?P<x>[\w-]+(?:\s+[\w-]+)?)\s+(?:more\s+)?"
                     rf"(?P<y>[\w-]+)$", low)
        found = bool(m) and m.group("x") not in cap.REFERS_TO_IMAGE and m.group(
            "x") not in _PRONOUNS and cap.find_item(cap.split_items(caption)[0], m.group("x")) is not None
        recipe = self._recipe(m.group("y")) if m else None
        if found and (recipe is None or not any(st.get("attributes") for st in recipe["steps"])):
            x, y = m.group("x"), _positive(m.group("y"))
            new = cap.set_attribute(caption, x, y)
            if new is None:
                return None
            return new, [y]
        return None

    def _give_attribute(self, caption: str, phrase: str) -> tuple[str, list[str]] | None:
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
        return new, adjectives[:2] + [noun]

    def _recolor(self, caption: str, x: str, colour: str) -> tuple[str, list[str]]:
        x = re.sub(r"\s+colou?r$", "", x)
        hair = set(vocabulary().get("hair_colours", [])) | {
            "black", "brown", "red", "grey", "gray", "white", "pink", "blue", "purple"}
        if ((cap.head_noun(x) is None or x in _PRONOUNS) and colour in hair
                and re.search(r"\bhair\b", caption, re.IGNORECASE)):  # "make her a blonde"
            new = cap.recolor(caption, "hair", colour)
            if new is not None:
                return new, [colour, "hair"]
        if cap.head_noun(x) is None:
            return cap.append(caption, f"tinted {colour}"), [colour]
        if x in cap.REFERS_TO_IMAGE and _MEDIUM.match(caption):  # "a photo of ...": a tint
            return cap.append(caption, f"tinted {colour}"), [colour]
        if x in cap.REFERS_TO_IMAGE:
            items, _ = cap.split_items(caption)
            noun = cap.head_noun(items[0]) if items else None
            if noun and noun != "background" and any(w in cap.colours() for w in cap.words(items[0])):
                new = cap.recolor(caption, noun, colour)
                if new is not None:
                    return new, [colour, noun]
            return cap.append(caption, f"tinted {colour}"), [colour]
        new = cap.recolor(caption, x, colour)
        noun = cap.head_noun(x)
        if new is None:
            new = cap.append(caption, f"with {cap.with_article(f'{colour} {noun}')}")
        return new, [colour] + ([noun] if noun else [])

    def _generic(self, clause: str, caption: str) -> tuple[str, list[str]]:
        phrase = re.sub(r"^(?:make|turn)\s+(?:it|the image|the picture|the photo|everything)\s+"
                        r"(?:look\s+|feel\s+|seem\s+)?(?:more\s+)?", "", clause, flags=re.IGNORECASE)
        phrase = re.sub(r"^(?:look|feel|seem)\s+", "", phrase, flags=re.IGNORECASE)
        target = cap.append(caption, phrase)
        stop = {"a", "an", "the", "and", "of", "with", "it", "more", "like", "look", "make"}
        focus = [w for w in cap.words(phrase) if w not in stop][:2]
        return target, focus


_MEDIUM = re.compile(
    r"^(?:(?:a|an|the)\s+)?(?:[\w-]+\s+){0,3}?(?:photo|photograph|picture|image|shot|painting|"
    r"illustration|drawing|sketch|render|rendering|artwork|still|portrait|pixel art|snapshot|"
    r"selfie)\s+of\s+", re.IGNORECASE)


@functools.cache
def _keyword_patterns() -> list[tuple[str, str, re.Pattern]]:
    return [(name, str(kw), re.compile(rf"(?<![\w-]){re.escape(str(kw).lower())}(?![\w-])"))
            for name, recipe in recipes().items() for kw in recipe.get("keywords", [])]


def _has_verb(clause: str) -> bool:
    first = (clause.split() or [""])[0].lower()
    return first in set(vocabulary()["edit_verbs"]) | {
        "put", "place", "set", "bring", "show", "draw", "include", "insert", "keep", "blur",
        "sharpen", "increase", "decrease", "reduce", "raise", "lower", "boost", "apply",
        "use", "do", "go", "redo", "redraw", "repaint", "recolor", "recolour", "dye", "fix",
        "crop", "rotate", "flip", "resize", "soften", "adjust", "tone", "fill", "cover"}


def _drop_phrases(caption: str, phrases) -> str:
    """Remove whole phrases (', at night', 'at night') and tidy the commas left behind."""
    out = caption
    for ph in sorted(phrases, key=len, reverse=True):
        out = re.sub(rf"(?:,\s*)?\b{re.escape(ph)}\b", "", out, flags=re.IGNORECASE)
    out = re.sub(r"\s+,", ",", re.sub(r",\s*,", ",", out))
    return " ".join(out.split()).strip(" ,") or caption


def _set_medium(caption: str, medium: str) -> str:
    """'a photo of a dog' -> 'an anime illustration of a dog' (or put it in front)."""
    rest = _MEDIUM.sub("", caption, count=1)
    return cap.fix_articles(f"{medium} of {rest}")


def _person(caption: str) -> str | None:
    """The first person the caption names ('woman'), else None."""
    ws = cap.words(caption)
    return next((w for w in ws if w in set(cap.people())), None)


def _subject(caption: str) -> str | None:
    """The thing a caption is about: 'a product photo of a white sneaker on ...' -> 'sneaker'."""
    items, _ = cap.split_items(_MEDIUM.sub("", caption, count=1))
    return cap.head_noun(items[0]) if items else None


def _positive(adjective: str) -> str:
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
