"""Moving the head from the chat or a click: undo, redo, branch switch, "back to ...".

agent/navigation.py finds the node a message means (over agent/lineage.py's walks);
this file wires it to the store and writes the chat note. A head move continues the
chat under the message that made the target image, so messages() shows the branch that
leads to the current image.
"""

from __future__ import annotations

from agent.chat.views import Reply
from agent.lineage import navigation
from agent.lineage import walks as lineage
from agent.reading.intents import Intent
from agent.reading.references import Nav


class HeadMoves:
    """ChatSession's navigation calls."""

    def _navigate(self, intent: Intent, text: str, wait: bool) -> list[Reply]:
        if (busy := self._busy()) is not None:
            return [busy]
        cid = self._require()
        nodes = self.store.nodes(cid)
        head = self.store.head(cid)
        if head is None:
            return [self._say("There are no images yet: nothing to go back to.", "error",
                              user_text=text)]
        groups = [(job.request.get("request", ""), list(job.result_node_ids))
                  for job in reversed(self.store.list_jobs(cid, limit=500)) if job.kind == "edit"]
        found = navigation.navigate(Nav(intent.kind, intent.target, intent.count), nodes,
                                    head.id, groups, self._redo_hint.get(cid), self.caption_of)
        node = found.node
        if node is None:
            return [self._say(found.text, "ask" if found.kind == "ask" else "error",
                              user_text=text)]
        if intent.kind == "undo":
            self._redo_hint[cid] = lineage.branch_leaf(nodes, head.id).id
        verb = {"redo": "Forward to", "branch": "Switched to"}.get(intent.kind, "Back to")
        reply = self._move_head(node, text, verb=verb)
        if intent.then:
            return [reply, *self._edit(intent.then, None, wait)]
        return [reply]

    def set_head(self, node_id: str) -> Reply:
        """Rollback by click: the head moves to node_id (a node of this conversation);
        the next edit branches from it. Stores a short assistant note in the chat."""
        node = self._own_node(node_id)
        if (busy := self._busy()) is not None:
            return busy
        return self._claimed(lambda: [self._move_head(node, None, verb="Selected")])[0]

    def _move_head(self, node, user_text: str | None, verb: str = "Back to") -> Reply:
        """Head -> node; the messages continue on the branch of the message that made it."""
        cid = self._require()
        self.store.set_head(cid, node.id)
        anchor = self._anchor_message(node.id)
        caption = self.caption_of(node)
        label = "the original" if node.parent_id is None else f"turn #{node.depth}"
        what = f" ({node.instruction})" if node.instruction else ""
        later = ("the next edit starts a new branch from here" if self.store.children(node.id)
                 else "the next edit continues from here")
        text = f"{verb} {label}{what}: \"{caption}\". Nothing was deleted; {later}."
        if user_text is not None:
            anchor = self.store.add_message(cid, "user", user_text, anchor).id
        msg = self.store.add_message(cid, "assistant", text, anchor, node_ids=[node.id],
                                     root=anchor is None, kind="rollback")
        return Reply(text=text, kind="rollback", node_ids=(node.id,), message_id=msg.id)

    def _anchor_message(self, node_id: str) -> str | None:
        """The message that produced (or first showed) the node."""
        for msg in self.store.messages(self._require()):
            if node_id in msg.node_ids:
                return msg.id
        return None
