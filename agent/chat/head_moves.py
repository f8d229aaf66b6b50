"""Moving the head from the chat or a click: undo, redo, branch switch, "back to ...".

agent/lineage/navigation.py finds the node a message means (over the walks of
agent/lineage/walks.py); this file moves the head in the store and writes the chat note.
A head move continues the chat under the message that made the target image, so
messages() shows the branch that leads to the current image.
"""

from __future__ import annotations

from agent.chat import submit
from agent.chat.turn import Turn
from agent.chat.views import Reply
from agent.lineage import navigation, walks
from agent.reading.intents import Intent
from agent.reading.references import Nav


def navigate(turn: Turn, intent: Intent, redo_hints: dict[str, str]) -> list[Reply]:
    """undo / redo / goto / branch, then the edit that came with it ("... and try a scarf").
    redo_hints: {conversation id: the branch tip an undo left}, so redo goes back there."""
    if (busy := turn.busy()) is not None:
        return [busy]
    store, cid = turn.store, turn.conversation_id
    nodes = store.nodes(cid)
    head = store.head(cid)
    if head is None:
        return [turn.say("There are no images yet: nothing to go back to.", "error",
                         user_text=turn.text)]
    groups = [(job.request.get("request", ""), list(job.result_node_ids))
              for job in reversed(store.list_jobs(cid, limit=500)) if job.kind == "edit"]
    found = navigation.navigate(Nav(intent.kind, intent.target, intent.count), nodes,
                                head.id, groups, redo_hints.get(cid), lambda n: n.caption)
    node = found.node
    if node is None:
        return [turn.say(found.text, "ask" if found.kind == "ask" else "error",
                         user_text=turn.text)]
    if intent.kind == "undo":
        redo_hints[cid] = walks.branch_leaf(nodes, head.id).id
    verb = {"redo": "Forward to", "branch": "Switched to"}.get(intent.kind, "Back to")
    reply = move_head(turn, node, turn.text, verb=verb)
    if intent.then:
        return [reply, *submit.edit(turn, intent.edit, intent.once, None)]
    return [reply]


def click(turn: Turn, node) -> Reply:
    """Rollback by click: the head moves to the node (the claim is held by the caller)."""
    if (busy := turn.busy()) is not None:
        return busy
    return move_head(turn, node, None, verb="Selected")


def move_head(turn: Turn, node, user_text: str | None, verb: str = "Back to") -> Reply:
    """Head -> node; the messages continue on the branch of the message that made it."""
    store, cid = turn.store, turn.conversation_id
    store.set_head(cid, node.id)
    anchor = anchor_message(store, cid, node.id)
    label = "the original" if node.parent_id is None else f"turn #{node.depth}"
    what = f" ({node.instruction})" if node.instruction else ""
    later = ("the next edit starts a new branch from here" if store.children(node.id)
             else "the next edit continues from here")
    text = f"{verb} {label}{what}: \"{node.caption}\". Nothing was deleted; {later}."
    if user_text is not None:
        anchor = store.add_message(cid, "user", user_text, anchor).id
    msg = store.add_message(cid, "assistant", text, anchor, node_ids=[node.id],
                            root=anchor is None, kind="rollback")
    return Reply(text=text, kind="rollback", node_ids=(node.id,), message_id=msg.id)


def anchor_message(store, conversation_id: str, node_id: str) -> str | None:
    """The message that produced (or first showed) the node."""
    for msg in store.messages(conversation_id):
        if node_id in msg.node_ids:
            return msg.id
    return None
