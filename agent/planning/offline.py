"""OfflinePlanner: turns a request into an EditPlan with rules and the recipes in prompts/.

Direct instructions ("make the car red", "replace the dog with a cat", "add a hat",
"remove the glasses", "move the circle to the top left", "make the background blue")
rewrite the caption item they name (the rule table of agent/planning/rules.py); vague
wishes ("more vintage", "winter") use the multi-step recipes of prompts/recipes.yaml
(agent/planning/recipes.py). Several clauses ("make the circle blue and add a hat")
become several steps, at most four.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent import ops
from agent.planning import captions as cap
from agent.planning.plan import MAX_STEPS, EditPlan, EditStep
from agent.planning.recipes import Step, apply_recipe, find_recipe
from agent.planning.rewrites import MORE_RULES, recipe_rest, restate
from agent.planning.rules import DECLINE, direct
from agent.planning.safe import EXAMPLES, PlanningError, quote
from agent.prompts import alternation, vocabulary
from agent.reading.cleaning import clean_request

_MAX_PROMPT = 600  # EditStep.target_prompt max_length
_IMAGE_LEVEL = re.compile(
    r"^(?:(?:make|turn|change|convert|transform|render|give|set|switch)\s+)?(?:it|this|that|"
    r"the (?:whole )?(?:image|picture|photo|pic|scene|shot)|everything)\b", re.IGNORECASE)


@dataclass
class PlanResult:
    """A plan and who made it; notes are told to the user (e.g. a fallback)."""

    plan: EditPlan
    planner: str
    notes: list[str] = field(default_factory=list)
    # the request's parts, those not understood (part, why), and the part of each step
    clauses: list[str] = field(default_factory=list)
    unsure: list[tuple[str, str]] = field(default_factory=list)
    step_clauses: list[str] = field(default_factory=list)


def split_clauses(text: str) -> list[str]:
    """'make the circle blue and the square red, then add a hat' -> three clauses."""
    verbs = alternation(vocabulary()["edit_verbs"])
    parts = re.split(rf"\s*(?:;|\s\+\s|\.\s+|,?\s+(?:and\s+)?then\s+|,?\s+and\s+(?:also\s+)?(?=(?:{verbs})\b)"
                     rf"|,\s+(?:also\s+|and\s+|plus\s+)?(?=(?:{verbs})\b))\s*", text,
                     flags=re.IGNORECASE)
    out: list[str] = []
    for part in (p.strip() for p in parts):
        part = re.sub(r"^(?:and|also|plus|then|oh)\s+(?:also\s+)?", "", part, flags=re.IGNORECASE)
        if not part:
            continue
        # "make the circle blue and the square red": the second clause borrows the verb.
        m = re.match(r"^((?:make|paint|colou?r|turn)\s+)(.+?)\s+and\s+(the\s+.+)$", part, re.IGNORECASE)
        last = alternation([*cap.colours(), *cap.size_words()])
        if m and re.search(rf"\b(?:{last})$", m.group(3)):
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
    words = alternation(v["softer"] + v["stronger"])
    clause = re.sub(rf"\b(?:{words})\b\s*", "", clause, flags=re.IGNORECASE).strip()
    return " ".join(clause.split()), strength


class OfflinePlanner:
    """Rules + recipes; needs no model and answers in microseconds."""

    name = "offline"

    def plan(self, request: str, caption: str, history: Sequence[str] = ()) -> PlanResult:
        raw, request = request, clean_request(request)
        if not request:
            raise PlanningError(f"{quote(raw)} asks for no change I can see; try {EXAMPLES}.")
        current = caption.strip()
        steps: list[Step] = []
        notes: list[str] = []
        summaries: list[str] = []
        clauses, unsure, step_clauses = [], [], []
        named = None  # the thing the last part named: "... the river ..., make it flowing"
        for clause in split_clauses(request):
            if named and re.match(r"^make\s+it\s+[\w-]+$", clause, re.IGNORECASE) and \
                    find_recipe(clause) is None and cap.category(clause.split()[-1]) != "colour":
                clause = re.sub(r"\bit\b", f"the {named}", clause, count=1)
            m = re.search(r"\bthe\s+([a-z][\w-]+)\b", clause, re.IGNORECASE)
            named = m.group(1) if m and m.group(1).lower() not in cap.REFERS_TO_IMAGE else None
            if not re.search(r"[^\W\d_]", clause) or clause.lower() in ("and", "then", "also"):
                continue  # no words: nothing to plan in this part
            clauses.append(clause)
            doubt = doubts(clause, current)
            if doubt:
                unsure.append((clause, doubt))
            new_steps, summary, note = self._clause(clause, current)
            if new_steps and new_steps[-1].unsure and not doubt:
                unsure.append((clause, new_steps[-1].unsure))
            for s in new_steps:
                steps.append(s)
                step_clauses.append(clause)
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
                            focus_words=s.focus, strength=s.strength, kind=s.kind, op=s.op,
                            scope=s.scope)
                   for s in steps],
            summary=" ".join(summaries)[:300],
        )
        return PlanResult(plan, self.name, list(dict.fromkeys(notes)), clauses, unsure,
                          step_clauses[:MAX_STEPS])

    # -- one clause -> steps ---------------------------------------------------------

    def _clause(self, clause: str, caption: str) -> tuple[list[Step], str, str | None]:
        clause, remark = restate(clause)
        if remark:  # "he looks bored": said about the picture, not a change
            return [], "", None
        head, _, tail = clause.partition(", ")
        op = ops.parse_request(head) if tail else None
        if op is not None:  # "black and white, high contrast": the operation, then the rest
            op = ops.parse(str(op))
            after = ops.caption_after(caption, op)
            steps, summary, note = self._clause(tail, after)
            first = Step(op.describe(), after, [], 0.5, "op", str(op))
            return [first, *steps], summary, note
        if tail and _has_verb(head) and not _has_verb(tail) and not re.match(
                r"^(?:no|nobody|no one|not|without|nothing)\b", tail, re.IGNORECASE):
            steps, summary, note = self._clause(head, caption)  # "make the grass short,
            if steps and not steps[-1].unsure:                  # freshly mowed"
                steps[-1].target = cap.append(steps[-1].target, tail)
            return steps, summary, note
        clause = re.sub(r",\s*(?:nobody|no one|no people)(?:\s+(?:around|there|at all))?$", "",
                        clause, flags=re.IGNORECASE)
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
            return ([Step(op.describe(), ops.caption_after(caption, op), [], strength, "op",
                           str(op))],
                    "", "This is an exact operation (done with PIL, not by the diffusion model).")
        for rule in MORE_RULES:  # "X instead of Y", a new medium or place, an action
            found = rule(clause.lower(), caption)
            if found is not None and found is not DECLINE:
                return [Step(instruction, found.target, found.focus, strength)], "", found.note
        recipe = find_recipe(clause)
        if recipe is not None and (_IMAGE_LEVEL.match(clause) or not _has_verb(clause)):
            steps = apply_recipe(recipe, caption, strength)
            rest = recipe_rest(clause, recipe, steps[-1].target)
            if rest:  # "snowy christmas eve with lights in the windows": the rest too
                steps[-1].target = cap.append(steps[-1].target, rest)
            return steps, recipe.get("summary", ""), None
        found = direct(clause, caption)
        if found is not None:
            target, focus, note = found
            if note is None and target == caption:
                note = (f"The description already says that (\"{caption}\"), so this step may "
                        "change little.")
            step = Step(instruction, target, focus, strength)
            if note and note.startswith("I could not find which"):  # two of them
                step.unsure = "the picture has more than one " + note.split(":")[0].split()[-1]\
                    + "; say which"
            elif note and "could not find" in note:
                step.unsure = note.split(",")[0].replace("I could not find", "I see no") + \
                    " in the picture's description"
            return [step], "", note
        if recipe is not None:
            return apply_recipe(recipe, caption, strength), recipe.get("summary", ""), None
        target, focus = self._generic(clause, caption)
        note = (f"I had no rule for \"{clause}\", so I added it to the image description; "
                "an LLM planner (see the README) understands more.")
        scope = "global" if _IMAGE_LEVEL.match(clause) else "local"  # "make it dreamy"
        step = Step(instruction, target, focus, strength, scope=scope)
        if not _fresh_phrase(clause, caption):  # words pasted in are a guess: asked, not run
            step.unsure = "I have no rule for it"
        return [step], "", note

    def _generic(self, clause: str, caption: str) -> tuple[str, list[str]]:
        phrase = re.sub(r"^(?:make|turn)\s+(?:it|the image|the picture|the photo|everything)\s+"
                        r"(?:look\s+|feel\s+|seem\s+)?(?:more\s+)?", "", clause, flags=re.IGNORECASE)
        phrase = re.sub(r"^(?:look|feel|seem)\s+", "", phrase, flags=re.IGNORECASE)
        target = cap.append(caption, phrase)
        stop = {"a", "an", "the", "and", "of", "with", "it", "more", "like", "look", "make"}
        focus = [w for w in cap.words(phrase) if w not in stop][:2]
        return target, focus


_SHE = {"her", "she", "herself"}
_HE = {"him", "he", "his", "himself"}


def doubts(clause: str, caption: str) -> str:
    """Why a clause cannot be planned with confidence on this caption ("" when it can): a
    person the caption does not have ("make her smile" on a boy), "it" moved when the
    picture has several things."""
    ws = set(cap.words(clause))
    cw = set(cap.words(caption))
    female = {"woman", "girl", "lady", "bride", "mother", "grandmother", "women", "girls",
              "queen", "actress", "she", "her", "wife", "daughter"}
    male = {"man", "boy", "gentleman", "groom", "father", "grandfather", "men", "boys", "king",
            "guy", "he", "his", "husband", "son", "teenager"}
    if ws & _SHE and cw & male and not cw & female:
        return "the picture's description names no woman or girl"
    if ws & _HE and cw & female and not cw & male:
        return "the picture's description names no man or boy"
    if re.match(r"^(?:move|shift|push)\s+(?:it|that|this|them)\s+(?:to\s+)?(?:the\s+)?(?:left|right|up|down|top|bottom|side|cent(?:er|re)|middle)\b", clause, re.IGNORECASE) \
            and len(cap.split_items(caption)[0]) > 1:
        return "the picture has several things; say which one"
    return ""


def _fresh_phrase(clause: str, caption: str) -> bool:
    """A clause the generic fallback may append as it is: a short phrase of picture words
    ("sandstorm", "90s vhs look", "moroccan souk vibe") that names nothing the caption
    has - a phrase about a thing the picture shows ("laces yellow", "dapple grey horse")
    changes that thing, which appending would not do, so it is asked about."""
    from agent.reading import accounting

    ws = accounting.words(clause)
    if not ws or len(ws) > 4 or not re.fullmatch(r"[\w' -]+", clause) or _has_verb(clause):
        return False
    glue = accounting.glue() - {"a", "an", "the", "of", "and", "in", "on", "with"}
    content = [w for w in ws if w not in {"style", "look", "vibe", "vibes", "effect", "feel"}]
    if not content or len(content) > 3 or any(w in glue for w in content):
        return False
    return not accounting.unaccounted_overlap(content, caption)


def _has_verb(clause: str) -> bool:
    first = (clause.split() or [""])[0].lower()
    v = vocabulary()
    return first in {*v["edit_verbs"], *v["clause_verbs"]}
