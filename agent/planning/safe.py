"""Planning that never crashes on words: any planner failure becomes a PlanningError
whose message can be shown to the user as it is (what was not understood, and what to
try), never a traceback. Nothing is stored for a request that fails here."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from pydantic import ValidationError

from agent.reading import op_limits

log = logging.getLogger(__name__)

MAX_REQUEST_CHARS = 500
EXAMPLES = '"make the sky blue", "add a hat", "remove the car" or "make it look like a watercolor"'


class PlanningError(ValueError):
    """The request could not be planned; str() is a polite sentence for the user."""


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


def plan_safely(planner, request: str, caption: str, history: Sequence[str] = ()):
    """planner.plan(...), or a PlanningError naming what was not understood."""
    check_request(request)
    try:
        return planner.plan(request, caption, history)
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
