"""Try again: a result that missed (or may have) is made once more, the same steps from
the same image with another seed, each limited to the region its first try was (the
node's mask); the earlier result stays in the lineage as a sibling.
(Going back is a head move: ChatSession.set_head.)"""

from __future__ import annotations

from dataclasses import replace

from agent.chat import submit
from agent.chat.turn import Turn
from agent.chat.views import Reply
from agent.jobs.spec import JobSpec
from agent.planning.plan import EditPlan, EditStep

MAX_SEED = 2**31 - 1


def try_again(turn: Turn, message_id: str) -> list[Reply]:
    """Run the job behind an assistant's result message again with another seed."""
    from storage import NotFoundError

    store, cid = turn.store, turn.conversation_id
    try:
        msg = store.get_message(message_id)
    except NotFoundError:
        msg = None
    job = _job_of(store, cid, msg.node_ids) if msg is not None and msg.node_ids else None
    if msg is None or msg.conversation_id != cid or job is None:
        return [Reply(text="There is no result there to try again.", kind="error")]
    if (busy := turn.busy()) is not None:
        return [busy]
    first = store.get_node(msg.node_ids[0])
    old = JobSpec.from_dict(job.request)
    seed = next_seed(store, first, old.seed)
    spec = replace(old, base_node_id=first.parent_id, after_job=None, seed=seed, notes=[],
                   step_key_base="", step_offset=0, strength=old.strength,
                   steps=same_regions(store, job.id, old))
    what = "generation" if old.kind == "generate" else "edit"
    user = store.add_message(cid, "user", f"Try the {what} again with another seed ({seed}).")
    if old.kind == "generate":
        return [submit.run(turn, spec, None, "generate")]
    store.add_plan(user.id, old.request, spec.steps, "try again")
    shown = [{k: v for k, v in step.items() if k in EditStep.model_fields} for step in spec.steps]
    plan = EditPlan.model_validate({"steps": shown, "summary": old.summary})
    return [submit.run(turn, spec, plan, "edit")]


def last_result(store, conversation_id: str) -> str | None:
    """The assistant message whose result is the conversation's head (what a typed "try
    again" means), or None when the head is not the newest result."""
    head = store.head(conversation_id)
    for msg in reversed(store.messages(conversation_id)):
        if msg.role == "assistant" and msg.node_ids:
            made = msg.kind in ("edit", "generate")  # not a move, an upload or a note
            return msg.id if made and head is not None and msg.node_ids[-1] == head.id else None
    return None


def same_regions(store, job_id: str, old: JobSpec) -> list[dict]:
    """The job's steps, each to be limited to the region its first try was limited to (the
    mask stored on the node it made), so a try differs by its seed alone."""
    steps = []
    for k, step in enumerate(old.steps):
        made = store.node_by_step_key(old.step_key(job_id, k))
        steps.append({**step, "region": {"node": made.id}} if made is not None
                     and made.mask_sha256 else dict(step))
    return steps


def _job_of(store, conversation_id: str, node_ids):
    """The finished job that made these nodes (its first node is the message's first)."""
    for job in store.list_jobs(conversation_id, limit=500):
        if job.result_node_ids and job.result_node_ids[0] == node_ids[0] and job.kind in (
                "edit", "generate"):
            return job
    return None


def next_seed(store, first, seed: int) -> int:
    """A seed no try of this step used yet: one more than the largest of its siblings made
    by the same step (the same instruction from the same image)."""
    if first.parent_id is None:
        tries = [n for n in store.nodes(first.conversation_id) if n.parent_id is None
                 and n.target_prompt == first.target_prompt]
    else:
        tries = [n for n in store.children(first.parent_id)
                 if n.instruction == first.instruction]
    used = [n.seed for n in tries if n.seed is not None] + [seed]
    return (max(used) + 1) % MAX_SEED
