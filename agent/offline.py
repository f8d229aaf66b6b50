"""OfflinePlanner: turns a request into an EditPlan with rules and the recipes in prompts/.

Direct instructions ("make the car red", "replace the dog with a cat", "add a hat",
"remove the glasses", "move the circle to the top left", "make the background blue")
rewrite the caption item they name; vague wishes ("more vintage", "winter") use the
multi-step recipes of prompts/recipes.yaml. Several clauses ("make the circle blue
and add a hat") become several steps, at most four.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent import captions as cap
from agent.plan import MAX_STEPS, EditPlan, EditStep
from agent.prompts import recipes, vocabulary

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


class OfflinePlanner:
    """Rules + recipes; needs no model and answers in microseconds."""

    name = "offline"

    def plan(self, request: str, caption: str, history: Sequence[str] = ()) -> PlanResult:
        request = clean_request(request)
        if not request:
            raise ValueError("empty request")
        current = caption.strip()
        steps: list[_Step] = []
        notes: list[str] = []
        summaries: list[str] = []
        for clause in split_clauses(request):
            new_steps, summary, note = self._clause(clause, current)
            for s in new_steps:
                steps.append(s)
                current = s.target
            if summary:
                summaries.append(summary)
            if note:
                notes.append(note)
        if len(steps) > MAX_STEPS:
            notes.append(f"The request needs {len(steps)} steps; I kept the first {MAX_STEPS}.")
            steps = steps[:MAX_STEPS]
        plan = EditPlan(
            steps=[EditStep(instruction=s.instruction, target_prompt=s.target,
                            focus_words=s.focus, strength=s.strength) for s in steps],
            summary=" ".join(summaries)[:300],
        )
        return PlanResult(plan, self.name, notes)

    # -- one clause -> steps ---------------------------------------------------------

    def _clause(self, clause: str, caption: str) -> tuple[list[_Step], str, str | None]:
        clause, strength = _strength_of(clause)
        # "try a red scarf" after a rollback means "add a red scarf"
        clause = re.sub(r"^try\s+(?:adding\s+|putting\s+(?:on\s+)?|with\s+)?(?=(?:a|an|some)\s)",
                        "add ", clause, flags=re.IGNORECASE)
        clause = re.sub(r"\s+instead$", "", clause, flags=re.IGNORECASE)
        instruction = clause[:1].upper() + clause[1:]
        direct = self._direct(clause, caption)
        if direct is not None:
            target, focus = direct
            note = (f"The description already says that (\"{caption}\"), so this step may "
                    "change little." if target == caption else None)
            return [_Step(instruction, target, focus, strength)], "", note
        recipe = self._recipe(clause)
        if recipe is not None:
            return self._apply_recipe(recipe, caption, strength), recipe.get("summary", ""), None
        target, focus = self._generic(clause, caption)
        note = (f"I had no rule for \"{clause}\", so I added it to the image description; "
                "an LLM planner (see the README) understands more.")
        return [_Step(instruction, target, focus, strength)], "", note

    def _recipe(self, clause: str) -> dict | None:
        low = clause.lower()
        best, best_pos = None, None
        for name, recipe in recipes().items():
            for kw in recipe.get("keywords", []):
                m = re.search(rf"\b{re.escape(str(kw).lower())}\b", low)
                if m and (best_pos is None or m.start() < best_pos):
                    best, best_pos = dict(recipe, name=name), m.start()
        return best

    def _apply_recipe(self, recipe: dict, caption: str, strength: float) -> list[_Step]:
        scale = strength / 0.5
        out, current = [], caption
        for step in recipe["steps"]:
            target = cap.replace_phrases(current, step.get("replace") or {})
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

    def _direct(self, clause: str, caption: str) -> tuple[str, list[str]] | None:
        colours = _alt(cap.colours())
        sizes = _alt(cap.size_words())
        positions = _alt(cap.positions())
        low = clause.lower()
        det = r"(?:the |his |her |their |its |that |this )?"

        # background
        m = re.match(rf"^(?:make|change|turn|set|paint|colou?r|switch)\s+{det}background\s+"
                     rf"(?:colou?r\s+)?(?:to\s+|into\s+|in\s+)?(?P<y>.+)$", low)
        if m:
            y = re.sub(r"\s+(?:colou?r|one)$", "", m.group("y"))
            new = cap.set_background(caption, y)
            focus = [w for w in cap.words(y) if w in cap.colours()] or cap.words(y)[-1:]
            return new, focus + ["background"]

        # remove
        m = re.match(rf"^(?:remove|erase|delete|take (?:off|away|out)|get rid of|drop|lose)\s+"
                     rf"(?:all (?:of )?)?{det}(?P<x>.+?)(?:\s+from\s+.+)?$", low) or re.match(
            rf"^(?:take)\s+{det}(?P<x>.+?)\s+(?:off|away|out)$", low) or re.match(
            rf"^(?:without|no more|no)\s+{det}(?P<x>.+)$", low)
        if m:
            x = m.group("x")
            new = cap.remove(caption, x)
            if new is None:
                new = cap.append(caption, f"without {cap.strip_article(x)}")
            return new, []

        # move: "move the circle to the top left" / "... at the top left"
        bare = {re.sub(r"^(?:at|on|in)\s+", "", p): p for p in cap.positions()}
        m = re.match(rf"^(?:move|put|place|shift|push)\s+{det}(?P<x>.+?)\s+(?:to\s+|over to\s+)?"
                     rf"(?P<pos>{positions})$", low) or re.match(
            rf"^(?:move|put|place|shift|push)\s+{det}(?P<x>.+?)\s+(?:over\s+)?(?:to(?:ward)?s?\s+)"
            rf"(?P<pos>{_alt(bare)})$", low)
        if m:
            pos = bare.get(m.group("pos"), m.group("pos"))
            new = cap.move(caption, m.group("x"), pos)
            if new is not None:
                return new, cap.words(pos)[-1:]

        # replace / transform: "replace X with Y", "turn X into Y", "change X to Y"
        m = re.match(rf"^(?:replace|swap|exchange|substitute)\s+{det}(?P<x>.+?)\s+(?:with|for|by)\s+"
                     rf"(?P<y>.+)$", low) or re.match(
            rf"^(?:change|turn|transform|convert|make)\s+{det}(?P<x>.+?)\s+(?:in)?to\s+"
            rf"(?P<y>.+)$", low)
        if m:
            x, y = m.group("x"), re.sub(r"\s+(?:colou?r|instead)$", "", m.group("y"))
            yw = cap.words(y)
            if x in cap.REFERS_TO_IMAGE:
                return None  # "turn it into a watercolor": a style, not an object swap
            if len(yw) == 1 and yw[0] in cap.colours():
                return self._recolor(caption, x, yw[0])
            if len(yw) == 1 and yw[0] in cap.size_words():
                new = cap.resize(caption, x, yw[0])
                if new is not None:
                    return new, [cap.size_words()[yw[0]]]
            new = cap.replace_object(caption, x, y)
            if new is None:
                new = cap.append(caption, f"with {cap.with_article(y)} instead of "
                                          f"{cap.with_article(x)}")
            return new, [cap.head_noun(y) or yw[-1]]

        # recolour: "make the car red", "paint the circle on the left blue"
        m = re.match(rf"^(?:make|paint|colou?r|recolou?r|turn|dye)\s+{det}(?P<x>.+?)\s+"
                     rf"(?P<y>{colours})(?:\s+colou?r(?:ed)?)?$", low)
        if m:
            return self._recolor(caption, m.group("x"), m.group("y"))

        # resize: "make the circle bigger", "enlarge the square"
        m = re.match(rf"^make\s+{det}(?P<x>.+?)\s+(?:much\s+)?(?P<y>{sizes})$", low)
        if m or (m := re.match(rf"^(?P<v>enlarge|shrink|grow)\s+{det}(?P<x>.+)$", low)):
            y = m.groupdict().get("y") or ("small" if m.group("v") == "shrink" else "large")
            if m.group("x") not in cap.REFERS_TO_IMAGE:
                new = cap.resize(caption, m.group("x"), y)
                if new is not None:
                    return new, [cap.size_words()[y]]

        # add: "add a hat", "put a hat on the dog", "give the dog a hat"
        m = re.match(rf"^give\s+(?:(?:him|her|them|it)\s+|{det}(?P<who>[\w-]+)\s+)(?P<y>.+)$", low)
        m = m or re.match(rf"^(?:make|let|have)\s+(?:him|her|them|it|{det}(?P<who>[\w-]+))\s+"
                          rf"(?:wear|put on|try on|have)\s+(?P<y>.+)$", low)
        if not m:
            m = re.match(rf"^(?:add|put|place|insert|draw|include)\s+(?P<y>.+\s(?:{positions}))$",
                         low) or re.match(rf"^(?:add|put|place|insert|draw|include)\s+(?P<y>.+?)"
                                          rf"(?:\s+(?:on|to|onto)\s+{det}(?P<who>.+))?$", low)
        if m:
            y = m.group("y").strip()
            who = m.groupdict().get("who")
            if re.search(rf"\b(?:{_alt(cap.positions())})$", y) or who in (
                    None, "it", "them", "him", "her", "his head", "her head"):
                who = None
            if cap.words(y) and not self._recipe(y):
                new = cap.add_object(caption, y, who)
                noun = cap.head_noun(y)
                cols = [w for w in cap.words(y) if w in cap.colours()]
                return new, cols + ([noun] if noun else [])

        # attribute: "make the cat fluffy", "make her hair blonde"
        m = re.match(rf"^make\s+{det}(?P<x>[\w-]+(?:\s+[\w-]+)?)\s+(?:more\s+)?(?P<y>[\w-]+)$",
                     low)
        if m and m.group("x") not in cap.REFERS_TO_IMAGE and not self._recipe(m.group("y")):
            x, y = m.group("x"), m.group("y")
            new = cap.set_attribute(caption, x, y)
            if new is None:
                new = cap.append(caption, f"with {y} {cap.strip_article(x)}")
            return new, [y]
        return None

    def _recolor(self, caption: str, x: str, colour: str) -> tuple[str, list[str]]:
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
