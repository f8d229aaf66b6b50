"""Planning that never crashes on words: any planner failure becomes a PlanningError
whose message can be shown to the user as it is (what was not understood, and what to
try), never a traceback. Nothing is stored for a request that fails here."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from pydantic import ValidationError

from agent import op_limits

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


def plan_in_worker(session, request: str, text: str | None, caption: str,
                   history: Sequence[str], once: dict, base_node_id: str | None,
                   after_job: str | None):
    """Submit an edit whose plan is made in the executor's worker (stage "planning"), so a
    slow LLM planner never blocks the page: the reply comes at once, the plan is stored
    when it is ready and the edit runs right after it. Words no planner can use are
    refused here, before anything is stored."""
    from agent.executor import JobSpec
    from agent.params import core_overrides, shift_strength
    from agent.views import Reply

    check_request(request)
    es = session.edit_settings.updated(**once)  # ValueError: a bad one-off setting
    cid = session.conversation_id
    store = session.store
    user = (store.add_message(cid, "user", text) if text is not None
            else store.latest_message(cid))
    planner = session.planner

    def prepare(spec) -> None:
        result = plan_safely(planner, request, caption, history)
        plan = shift_strength(result.plan, es.strength)
        store.add_plan(user.id, request, [s.model_dump() for s in plan.steps], result.planner)
        spec.steps = [s.model_dump() for s in plan.steps]
        spec.summary, spec.notes = plan.summary, list(result.notes)

    spec = JobSpec("edit", cid, steps=[], base_node_id=base_node_id, after_job=after_job,
                   base_caption=caption, preset=es.preset, overrides=core_overrides(es),
                   seed=es.seed, request=request)
    claim, session._claim = getattr(session, "_claim", None), None  # the conversation's
    job_id = session.executor.submit(spec, prepare=prepare, job_id=claim)
    name = getattr(planner, "name", "the planner")
    return Reply(text=f"Planning with {name}...", kind="queued", job_id=job_id)
