"""Moving the head from the chat or a click: undo, redo, branch switch, "back to ...".

agent/lineage/navigation.py finds the node a message means (over the walks of
agent/lineage/walks.py); this file moves the head in the store and writes the chat note.
A head move continues the chat under the message that made the target image, so
messages() shows the branch that leads to the current image.
"""

from __future__ import annotations

from agent.chat import submit
from agent.chat.turn import HOW_TO_ANSWER, Turn
from agent.chat.views import Reply
from agent.lineage import navigation, walks
from agent.lineage.labels import node_labels
from agent.reading.intents import Intent
from agent.reading.references import Nav


def last_move(store, conversation_id: str) -> dict:
    """What the last move by words stored with its note: {"move", "whole", "from", "tip"}
    (agent/chat/session.py reads "again", "redo" and "where I was" from it)."""
    msg = store.latest_message(conversation_id, kind="rollback")
    return dict(msg.meta) if msg is not None and msg.meta else {}


def navigate(turn: Turn, intent: Intent, redo_hints: dict[str, str]) -> list[Reply]:
    """undo / redo / goto / branch / again, then the edit that came with it ("... and try a
    scarf"). Where the last move came from and the branch tip an undo left are read from
    the store (the last rollback note's meta; redo_hints: this session's, when the store
    has none)."""
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
    last = last_move(store, cid)
    nav = Nav(intent.kind, intent.target, intent.count, whole=intent.whole)
    if nav.kind == "again":  # "once more", "back again": the last move once more
        nav = Nav(last.get("move") if last.get("move") in ("undo", "redo") else "undo",
                  whole=bool(last.get("whole", False)))
    hint = last.get("tip") or redo_hints.get(cid)
    found = navigation.navigate(nav, nodes, head.id, groups, hint,
                                lambda n: n.caption, came_from=last.get("from"))
    node = found.node
    if node is None:
        if found.kind == "ask":
            labels = node_labels(nodes)
            unique = list({c.id: c for c in found.candidates}.values())  # as the text lists them
            choices = [{"kind": "move", "node_id": c.id, "made": str(c.created_at),
                        "say": f"{labels.get(c.id, c.depth)}: \"{c.instruction or c.caption}\"",
                        "words": f"{c.caption} {c.instruction or ''}"} for c in unique]
            return [turn.say(_numbered(found.text) + "\n" + HOW_TO_ANSWER, "ask",
                             user_text=turn.text, meta={"choices": choices})]
        return [turn.say(found.text, "error", user_text=turn.text)]
    tip = walks.branch_leaf(nodes, head.id).id
    if nav.kind == "undo":
        redo_hints[cid] = tip
    verb = {"redo": "Forward to", "branch": "Switched to"}.get(nav.kind, "Back to")
    meta = {"move": nav.kind, "whole": nav.whole, "from": head.id,
            "tip": tip if nav.kind == "undo" else last.get("tip")}
    reply = move_head(turn, node, turn.text, verb=verb, meta=meta)
    if intent.then:
        return [reply, *submit.edit(turn, intent.edit, intent.once, None)]
    return [reply]


def _numbered(text: str) -> str:
    """The question's "- " lines numbered 1, 2 ... in their order (the choices' order)."""
    lines, k = [], 0
    for line in text.splitlines():
        if line.startswith("- "):
            k += 1
            line = f"{k}. {line[2:]}"
        lines.append(line)
    return "\n".join(lines)


def click(turn: Turn, node) -> Reply:
    """Rollback by click: the head moves to the node (the claim is held by the caller)."""
    if (busy := turn.busy()) is not None:
        return busy
    return move_head(turn, node, None, verb="Selected")


def move_head(turn: Turn, node, user_text: str | None, verb: str = "Back to",
              meta: dict | None = None) -> Reply:
    """Head -> node; the messages continue on the branch of the message that made it."""
    store, cid = turn.store, turn.conversation_id
    head = store.head(cid)
    meta = meta or {"move": "goto", "from": head.id if head else None}
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
                            root=anchor is None, kind="rollback", meta=meta)
    return Reply(text=text, kind="rollback", node_ids=(node.id,), message_id=msg.id)


def anchor_message(store, conversation_id: str, node_id: str) -> str | None:
    """The message that produced (or first showed) the node."""
    for msg in store.messages(conversation_id):
        if node_id in msg.node_ids:
            return msg.id
    return None
