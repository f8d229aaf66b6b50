"""A message the chat is not sure how to read is asked about, never acted on.

`misread(turn, intent, head)` answers an edit that may have been meant as a move (it
sounds like going back and does not start with an edit verb, or the reading's confidence
is under the margin): a question with two or three concrete choices - the versions the
words could mean ("go back to 3 (before 'make the square purple')") and the edit as it
would run ("edit: ... giving '...'") when the planner reads it soundly - stored with the
question (agent/chat/clarify.py takes the answer). Nothing is run.
"""

from __future__ import annotations

from agent.chat.turn import Turn
from agent.chat.views import Reply
from agent.lineage import navigation
from agent.lineage.labels import node_labels
from agent.planning.safe import plan_safely
from agent.reading.intents import Intent
from agent.reading.references import Nav, Target
from agent.reading.words import content_words

MARGIN = 0.5  # readings below this confidence are asked about


def misread(turn: Turn, intent: Intent, head) -> Reply | None:
    """A question instead of an edit the message may not mean; None to go ahead."""
    if intent.kind != "edit" or head is None or intent.confidence >= MARGIN:
        return None
    return ask_between(turn, intent.text, head, "I am not sure whether you want a change or "
                       "another version.")


def ask_between(turn: Turn, text: str, head, lead: str) -> Reply:
    choices = move_choices(turn, text, head)
    edit = edit_choice(turn, text, head)
    if edit is not None:
        choices.append(edit)
    question = f"{lead} Did you mean:" if choices else (
        f"{lead} Say \"go back to before ...\", \"the one with ...\" or \"undo\" to move, or "
        "say the change to make (\"make the sky blue\").")
    return turn.ask(question, choices[:3], user_text=turn.text)


def move_choices(turn: Turn, text: str, head) -> list[dict]:
    """Versions the message's words could mean: the one a change made, the one before it."""
    store, cid = turn.store, turn.conversation_id
    nodes = store.nodes(cid)
    groups = [(job.request.get("request", ""), list(job.result_node_ids))
              for job in reversed(store.list_jobs(cid, limit=500)) if job.kind == "edit"]
    words = " ".join(content_words(text))
    labels = node_labels(nodes)
    out, seen = [], {head.id}
    if not words:
        return out
    for how in ("before", "at"):
        found = navigation.navigate(Nav("goto", Target(how, words)), nodes, head.id, groups)
        for node in ([found.node] if found.node is not None else list(found.candidates)):
            if node is None or node.id in seen:
                continue
            seen.add(node.id)
            out.append(move_choice(node, labels, how))
    return out[:2]


def move_choice(node, labels: dict, how: str = "at") -> dict:
    what = node.instruction or node.caption
    where = "the original" if node.parent_id is None else f"{labels.get(node.id, node.depth)}"
    say = f"go back to {where} (\"{what}\")" if how == "at" else \
        f"go back to {where} (before the change you named; it shows \"{node.caption}\")"
    return {"kind": "move", "node_id": node.id, "say": say, "made": str(node.created_at),
            "words": f"{node.caption} {node.instruction or ''}"}


def edit_choice(turn: Turn, text: str, head) -> dict | None:
    if not head.caption:
        return None
    try:
        result = plan_safely(turn.planner, text, head.caption)
    except ValueError:
        return None
    plan = result.plan
    return {"kind": "plan", "request": text, "steps": [s.model_dump() for s in plan.steps],
            "say": f"edit: \"{text}\", giving \"{plan.final_prompt}\""}
