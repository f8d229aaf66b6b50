"""The offline planner's recipes: vague wishes ("more vintage", "winter", "watercolor") as
multi-step plans kept in prompts/recipes.yaml; a recipe step rewrites the caption by
phrase groups (time of day, season ... exclude each other), medium, replacements,
attributes of named things, or an added phrase."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from agent.planning import captions as cap
from agent.planning.plan import clamp_strength
from agent.prompts import recipes

# "a photo of ...", "an oil painting of ...": the medium a caption names first.
MEDIUM = re.compile(
    r"^(?:(?:a|an|the)\s+)?(?:[\w-]+\s+){0,3}?(?:photo|photograph|picture|image|shot|painting|"
    r"illustration|drawing|sketch|render|rendering|artwork|still|portrait|pixel art|snapshot|"
    r"selfie)\s+of\s+", re.IGNORECASE)


@dataclass
class Step:
    """A planned step before it becomes an EditStep."""

    instruction: str
    target: str
    focus: list[str]
    strength: float
    kind: str = "edit"
    op: str = ""
    unsure: str = ""  # why the planner is not sure it understood the part ("" when it is)
    scope: str = "local"  # EditStep.scope: "global" edits get no region


def find_recipe(clause: str) -> dict | None:
    """The recipe whose keyword starts earliest in the clause (the longest on a tie)."""
    low = clause.lower()
    best, best_key = None, None
    for name, kw, pattern in _keyword_patterns():
        m = pattern.search(low)
        key = m and (m.start(), -len(kw))
        if m and (best_key is None or key < best_key):
            best, best_key = dict(recipes()[name], name=name), key
    return best


def keywords_in(text: str) -> frozenset[str]:
    """The words of every recipe keyword the text says ("moodier" for the darker recipe):
    words a recipe's plan stands for without writing them."""
    low = text.lower()
    out: set[str] = set()
    for _name, kw, pattern in _keyword_patterns():
        if pattern.search(low):
            out.update(str(kw).lower().split())
    return frozenset(out)


def apply_recipe(recipe: dict, caption: str, strength: float) -> list[Step]:
    """The recipe's steps on this caption, their strengths scaled by `strength` (0.5: as
    written)."""
    scale = strength / 0.5
    scope = recipe.get("scope", "global")  # a look, a grade, light, weather: the whole picture
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
            ref = person(target) if noun == "person" else noun
            if ref and re.search(rf"\b{re.escape(ref)}\b", target, re.IGNORECASE):
                new = cap.set_attribute(target, ref, adjective)
                if new is not None:
                    placed = placed or new != target or adjective in cap.words(target)
                    target = new
        if not placed:
            target = cap.append(target, step.get("add", ""))
        out.append(Step(step["instruction"], target, list(step.get("focus", [])),
                        clamp_strength(float(step.get("strength", 0.5)) * scale),
                        scope=scope))
        current = target
    if current == caption:  # asked again ("even more vintage"): push the same way
        word = str(recipe["keywords"][0])
        target = cap.append(caption, f"even more {word}")
        return [Step(f"Make it even more {word}", target, [word.split()[-1]],
                     clamp_strength(0.6 * scale), scope=scope)]
    return out


def person(caption: str) -> str | None:
    """The first person the caption names ('woman'), else None."""
    ws = cap.words(caption)
    return next((w for w in ws if w in set(cap.people())), None)


@functools.cache
def _keyword_patterns() -> list[tuple[str, str, re.Pattern]]:
    return [(name, str(kw), re.compile(rf"(?<![\w-]){re.escape(str(kw).lower())}(?![\w-])"))
            for name, recipe in recipes().items() for kw in recipe.get("keywords", [])]


def _drop_phrases(caption: str, phrases) -> str:
    """Remove whole phrases (', at night', 'at night') and tidy the commas left behind."""
    out = caption
    for ph in sorted(phrases, key=len, reverse=True):
        out = re.sub(rf"(?:,\s*)?\b{re.escape(ph)}\b", "", out, flags=re.IGNORECASE)
    out = re.sub(r"\s+,", ",", re.sub(r",\s*,", ",", out))
    return " ".join(out.split()).strip(" ,") or caption


def _set_medium(caption: str, medium: str) -> str:
    """'a photo of a dog' -> 'an anime illustration of a dog' (or put it in front)."""
    rest = MEDIUM.sub("", caption, count=1)
    return cap.fix_articles(f"{medium} of {rest}")
