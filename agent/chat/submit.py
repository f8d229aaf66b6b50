"""Edits and generations: plan the request, store the user message and the plan, build
the job (edit_job: the one place an edit job is made), submit it under the conversation's
claim, reply (at once, or when the job ends).

One path for every edit: from the head, or, while an edit of this conversation is
queued in this process, from the caption that edit will end with (the job then starts
from that edit's last node). With an LLM planner and wait=False the plan is made in the
executor's worker (plan_in_worker), so a slow model never blocks the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from agent.chat.marking import with_places
from agent.chat.turn import Turn, ask_meta
from agent.chat.views import Reply
from agent.jobs import timing
from agent.jobs.recovery import resume_spec
from agent.jobs.spec import JobSpec
from agent.jobs.view import job_state
from agent.planning.offline import OfflinePlanner, PlanResult
from agent.planning.params import EditSettings, core_overrides, shift_strength
from agent.planning.plan import EditPlan
from agent.planning.safe import EXAMPLES, Unsure, check_request, plan_safely
from agent.reading.intents import Intent
from agent.reading.regions import read as read_region_words


def edit_job(conversation_id: str, settings: EditSettings, steps: list[dict], *,
             base_node_id: str | None, after_job: str | None, caption: str, request: str,
             summary: str = "", notes: Sequence[str] = (), region: dict | None = None) -> JobSpec:
    """The job of an edit: the plan's steps (empty while the worker plans them) from the
    base node, or from the end of the job it is queued behind, with the settings; region:
    what the user marked (a drawn mask or box, or region words), else the settings' mode."""
    return JobSpec("edit", conversation_id, steps=steps, base_node_id=base_node_id,
                   after_job=after_job, base_caption=caption, preset=settings.preset,
                   overrides=core_overrides(settings), seed=settings.seed, request=request,
                   summary=summary, notes=list(notes), region=region,
                   region_mode=settings.region)


def marked(turn: Turn, request: str) -> tuple[dict | None, str]:
    """(the region the user marked, the request to plan): a mask or box drawn on the image
    comes first; else region words ("only the sky", "everything except the dog") are read
    off the request (agent/reading/regions.py)."""
    words, rest = read_region_words(request)
    if turn.region is not None:
        return turn.region, request
    return (words.as_dict(), rest) if words is not None else (None, request)


def generate(turn: Turn, intent: Intent) -> list[Reply]:
    if (busy := turn.busy()) is not None:
        return [busy]
    prompt = intent.caption.strip()
    if not prompt:
        return [turn.say("Describe the image to generate, e.g. \"generate a red circle on "
                         "the left, on a green background\".", "error", user_text=turn.text)]
    turn.store.add_message(turn.conversation_id, "user", turn.text)
    current = turn.edit_settings
    spec = JobSpec("generate", turn.conversation_id, prompt=prompt, preset=current.preset,
                   overrides=core_overrides(current), seed=current.seed, request=turn.text,
                   steps=[{"instruction": "generate", "target_prompt": prompt}])
    return [run(turn, spec, None, "generate")]


def edit(turn: Turn, request: str, once: dict, user_text: str | None, *,
         steps: list[dict] | None = None) -> list[Reply]:
    """Plan the request and run it from the head (or, while an edit of this conversation
    runs in this process, queue it behind that edit); `once`: settings for this edit
    alone (Intent.once). user_text None: the user message is stored already. A plan the
    planner is not sure of is asked about, not run (Unsure). steps: a plan the user chose
    from a question (run as it was shown)."""
    store, cid = turn.store, turn.conversation_id
    after_job, base_node_id = None, None
    asked = request  # what waits for a caption: its region words are read again then
    region, request = marked(turn, request)
    behind = turn.behind()
    if behind is not None:
        after_job, prev = behind
        if prev.kind == "edit" and not prev.steps:  # its plan is not ready yet
            return [Reply(text="I am still planning the previous request; send this one "
                               "when its plan shows.", kind="error", job_id=after_job)]
        caption = prev.steps[-1]["target_prompt"] if prev.steps else prev.prompt
        history = [s["instruction"] for s in prev.steps if prev.kind == "edit"][-6:]
    else:
        if (busy := turn.busy()) is not None:
            return [busy]
        head = store.head(cid)
        if head is None:
            return [turn.say("There is no image yet: upload one (with a sentence saying "
                             "what it shows) or ask me to generate one, e.g. \"generate a "
                             "red circle on a green background\".", "error",
                             user_text=user_text)]
        caption = head.caption
        if not caption:
            return [turn.say("Before I edit: what does the image show? Describe it in one "
                             "sentence (for example \"a dog on a beach\").", "ask",
                             user_text=user_text, node_ids=[head.id],
                             meta=ask_meta(head.id, asked, once, turn.region))]
        base_node_id = head.id
        history = [n.instruction for n in store.path(head.id) if n.instruction][-6:]
    region, problem = with_places(region, caption)
    if problem:
        return [turn.say(problem, "error", user_text=user_text)]
    try:
        if not turn.wait and not isinstance(turn.planner, OfflinePlanner):  # never block
            return [plan_in_worker(turn, request, user_text, caption, history, once,
                                   base_node_id, after_job, region)]
        if steps is not None:
            result = PlanResult(EditPlan.model_validate({"steps": steps}), "chosen")
        else:
            result = plan_safely(turn.planner, request, caption, history)
    except Unsure as exc:
        return [unsure_reply(turn, exc, request, caption, history, user_text)]
    except ValueError as exc:
        return [turn.say(f"I could not plan that: {exc}", "error", user_text=user_text)]
    try:
        current = turn.edit_settings.updated(**once)
    except ValueError as exc:
        return [turn.say(f"I could not use that setting: {exc}", "error", user_text=user_text)]
    plan = shift_strength(result.plan, current.strength)
    steps = [s.model_dump() for s in plan.steps]
    user = (store.add_message(cid, "user", user_text) if user_text is not None
            else store.latest_message(cid))
    store.add_plan(user.id, request, steps, result.planner)
    spec = edit_job(cid, current, steps, base_node_id=base_node_id, after_job=after_job,
                    caption=caption, request=request, summary=plan.summary,
                    notes=result.notes, region=region)
    reply = run(turn, spec, plan, "edit")
    if after_job is not None and reply.kind == "queued":
        reply = replace(reply, text="Queued after the edit that is running:\n"
                                    + plan.describe())
    return [reply]


def unsure_reply(turn: Turn, exc: Unsure, request: str, caption: str, history,
                 user_text: str | None) -> Reply:
    """Ask instead of running a plan the planner was not sure of: offer the parts it did
    understand (a request of several parts), and say which it did not."""
    choices = []
    if exc.sure:
        alone = ". ".join(exc.sure)
        try:
            plan = plan_safely(turn.planner, alone, caption, history).plan
        except ValueError:
            plan = None
        if plan is not None:
            choices.append({"kind": "plan", "request": alone,
                            "steps": [s.model_dump() for s in plan.steps],
                            "say": f"edit: only {quote_all(exc.sure)}, giving "
                                   f"\"{plan.final_prompt}\""})
    first_why: dict[str, str] = {}
    for part, why in exc.parts:  # one reason per part: the first one found
        first_why.setdefault(part, why)
    missing = "; ".join(f"\"{part}\" ({why})" for part, why in list(first_why.items())[:3])
    lead = (f"I did not do {missing}." if exc.sure else
            f"I am not sure what you want changed: {missing}.")
    tip = f" Say it another way, for example {EXAMPLES}."
    return turn.ask(lead + (" Did you mean:" if choices else tip), choices, user_text=user_text)


def quote_all(parts: Sequence[str]) -> str:
    return " and ".join(f"\"{p}\"" for p in parts)


def run_plan(turn: Turn, request: str, steps: list[dict], user_text: str | None) -> list[Reply]:
    """Run a plan the user chose from a question, as it was shown."""
    return edit(turn, request, {}, user_text, steps=steps)


def plan_in_worker(turn: Turn, request: str, user_text: str | None, caption: str,
                   history: Sequence[str], once: dict, base_node_id: str | None,
                   after_job: str | None, region: dict | None = None) -> Reply:
    """Submit an edit whose plan is made in the executor's worker (stage "planning"), so a
    slow LLM planner never blocks the page: the reply comes at once, the plan is stored
    when it is ready and the edit runs right after it. Words no planner can use are
    refused here, before anything is stored."""
    check_request(request)
    settings = turn.edit_settings.updated(**once)  # ValueError: a bad one-off setting
    store, cid, planner = turn.store, turn.conversation_id, turn.planner
    user = (store.add_message(cid, "user", user_text) if user_text is not None
            else store.latest_message(cid))

    def prepare(spec: JobSpec) -> None:
        result = plan_safely(planner, request, caption, history)
        plan = shift_strength(result.plan, settings.strength)
        store.add_plan(user.id, request, [s.model_dump() for s in plan.steps], result.planner)
        spec.steps = [s.model_dump() for s in plan.steps]
        spec.summary, spec.notes = plan.summary, list(result.notes)

    spec = edit_job(cid, settings, [], base_node_id=base_node_id, after_job=after_job,
                    caption=caption, request=request, region=region)
    job_id = turn.submit(spec, prepare)
    name = getattr(planner, "name", "the planner")
    return Reply(text=f"Planning with {name}...", kind="queued", job_id=job_id)


def resume(turn: Turn, job) -> list[Reply]:
    """Run the steps of a failed plan that did not finish, from its last stored node."""
    try:
        spec = resume_spec(turn.store, job)
    except ValueError as exc:
        return [turn.say(f"I can't continue: {exc}.", "error", user_text=turn.text)]
    user = turn.store.add_message(turn.conversation_id, "user", turn.text)
    turn.store.add_plan(user.id, spec.request, spec.steps, "resume")
    plan = EditPlan.model_validate({"steps": spec.steps})
    return [run(turn, spec, plan, "edit")]


def run(turn: Turn, spec: JobSpec, plan: EditPlan | None, kind: str) -> Reply:
    """Submit the job; with wait, block until it ends and reply with its result."""
    executor = turn.executor
    job_id = turn.submit(spec)
    notes = tuple(spec.notes)
    if not turn.wait:
        what = plan.describe() if plan is not None else f"Generating \"{spec.prompt}\"."
        if (view := executor.progress(job_id)) and (how_long := timing.plan_line(
                view.total, view.estimate_s)):
            what += "\n" + how_long
        return Reply(text=f"Working on it:\n{what}" if plan else what, kind="queued",
                     plan=plan, job_id=job_id, notes=notes)
    view = executor.wait(job_id) or job_state(executor, turn.store, job_id)
    text = turn.store.get_message(view.message_id).text if view.message_id else ""
    ok = view.status == "done"
    return Reply(text=text or view.error or view.status, kind=kind if ok else "error",
                 node_ids=view.node_ids, plan=plan, job_id=job_id,
                 message_id=view.message_id, notes=notes)
