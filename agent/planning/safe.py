"""Planning that never crashes on words: any planner failure becomes a PlanningError
whose message can be shown to the user as it is (what was not understood, and what to
try), never a traceback. Nothing is stored for a request that fails here.

A plan is also never run on a misreading: a part the planner was not sure of, or a
target prompt that does not read as a caption (agent/reading/fluency.py), raises Unsure,
which the chat turns into a question. The offline and the LLM planner's plans pass
the same check."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from pydantic import ValidationError

from agent.planning.recipes import keywords_in
from agent.reading import accounting, fluency, op_limits

log = logging.getLogger(__name__)

MAX_REQUEST_CHARS = 500
EXAMPLES = '"make the sky blue", "add a hat", "remove the car" or "make it look like a watercolor"'


class PlanningError(ValueError):
    """The request could not be planned; str() is a polite sentence for the user."""


class Unsure(PlanningError):
    """The plan would act on words it did not understand. `parts`: (part, why) that were
    not understood; `sure`: the parts that were (a request of several parts), which the
    chat may offer to do alone."""

    def __init__(self, message: str, parts: list[tuple[str, str]], sure: list[str]):
        super().__init__(message)
        self.parts = parts
        self.sure = sure


def quote(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return f"\"{text[:limit]}...\"" if len(text) > limit else f"\"{text}\""


def check_request(request: str) -> None:
    """Refuse what no planner can use, with the reason."""
    if not request or not request.strip():
        raise PlanningError(f"the message has no words I can turn into an edit; try {EXAMPLES}.")
    if len(request) > MAX_REQUEST_CHARS:
        raise PlanningError(f"the request is {len(request)} characters long; I read at most "
                            f"{MAX_REQUEST_CHARS}. Please say the change in a sentence or two.")
    if not re.search(r"[^\W\d_]", request):
        raise PlanningError(f"I found no words in {quote(request)}; try {EXAMPLES}.")
    if refusal := op_limits.problem(request):  # "resize to 0x0", "rotate nan degrees"
        raise PlanningError(refusal)


def plan_safely(planner, request: str, caption: str, history: Sequence[str] = (), *,
                check: bool = True):
    """planner.plan(...), or a PlanningError naming what was not understood; with check, an
    Unsure when the plan would act on words it did not understand (check_plan)."""
    check_request(request)
    try:
        result = planner.plan(request, caption, history)
    except PlanningError:
        raise
    except ValidationError as exc:
        log.info("plan for %r broke the plan format", request, exc_info=True)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())) or "the plan"
        raise PlanningError(f"I did not manage to turn {quote(request)} into a valid plan ({where}: "
                            f"{first.get('msg', 'invalid')}); try saying it more simply, e.g. "
                            f"{EXAMPLES}.") from None
    except Exception as exc:
        log.warning("planner %s failed on %r", getattr(planner, "name", planner), request,
                    exc_info=True)
        reason = str(exc) if isinstance(exc, ValueError) and str(exc) else "I did not understand it"
        raise PlanningError(f"I did not understand {quote(request)} ({reason}). Try "
                            f"{EXAMPLES}.") from None
    if check:
        check_plan(result, request, caption)
    return result


def check_plan(result, request: str, caption: str) -> None:
    """Unsure when a part was not understood or a target prompt does not read as a caption."""
    parts = list(getattr(result, "unsure", []) or [])
    before = caption
    of_step = list(getattr(result, "step_clauses", []) or [])
    for i, step in enumerate(result.plan.steps):
        if step.kind == "edit":
            for problem in fluency.problems(step.target_prompt, before, request):
                part = of_step[i] if i < len(of_step) else step.instruction
                parts.append((part, f"the description would have {problem}"))
        before = step.target_prompt
    parts += unaccounted_parts(result, request, caption)
    if not parts:
        return
    unsure = {p for p, _ in parts}
    sure = [c for c in getattr(result, "clauses", []) if c not in unsure]
    what = "; ".join(f"{quote(p)}: {why}" for p, why in parts[:3])
    raise Unsure(f"I was not sure what to change ({what}), so I did not run it.", parts, sure)


def unaccounted_parts(result, request: str, caption: str) -> list[tuple[str, str]]:
    """(part, why) for each part of the request the plan's final caption does not account
    for (agent/reading/accounting.py): words it did not read, things it should have taken
    away. Exact operations are exact: a plan of them only is not checked."""
    steps = result.plan.steps
    if not any(s.kind == "edit" for s in steps):
        return []
    final = steps[-1].target_prompt
    planned = getattr(result, "step_clauses", None) or [request]  # a remark plans nothing
    clauses = [c for c in dict.fromkeys(planned)
               if c not in {p for p, _ in getattr(result, "unsure", []) or []}]
    out = []
    for clause in clauses:
        for problem in accounting.problems(clause, caption, final, keywords_in(clause)):
            out.append((clause, problem))
    return out
