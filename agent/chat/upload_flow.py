"""Uploads in the chat: store the images, choose the base, and when no caption came
with them ask for one; the answer becomes the node's caption (store.set_caption) and
the edit asked for with the upload runs then.

The question is an assistant message of kind "ask" whose meta says which upload it is
about and which instruction waits: {"caption_for": node_id, "instruction": "..."}.
"""

from __future__ import annotations

import re
from dataclasses import replace

from agent.chat import submit, welcome
from agent.chat.turn import Turn, ask_meta
from agent.chat.views import Reply
from agent.planning.vision import describe_upload
from agent.reading.intents import Intent, one_off_settings


def upload(turn: Turn, intent: Intent, uploads: list[tuple[str, bytes]]) -> list[Reply]:
    """Store the uploads (the base becomes the head); ask for a caption when none came."""
    if (busy := turn.busy()) is not None:
        return [busy]
    store, cid = turn.store, turn.conversation_id
    base = min(intent.base, len(uploads) - 1)
    seen = None if intent.caption else describe_upload(turn.planner, uploads[base][1])
    if seen:  # a vision-capable LLM described it
        intent = replace(intent, caption=seen)
    notes = welcome.upload_notes(turn.settings, [png for _, png in uploads],
                                 not store.nodes(cid))
    nodes = []
    for i, (_name, png) in enumerate(uploads):
        caption = intent.caption if i == base else ""
        nodes.append(store.add_upload(cid, png, caption, set_head=(i == base)))
    if len(nodes) > 1:
        store.set_head(cid, nodes[base].id)
    store.add_message(cid, "user", turn.text, node_ids=[n.id for n in nodes])
    names = ", ".join(f"{i + 1}. {n}" for i, (n, _) in enumerate(uploads))
    lead = (f"Stored {len(nodes)} images ({names}); image {base + 1} is the base. Say "
            "\"use the second image\" to switch." if len(nodes) > 1 else "Stored the image.")
    base_node = nodes[base]
    if not intent.caption:
        return [turn.say(f"{lead} What does it show? Describe it in one sentence (for "
                         "example \"a dog on a beach\"): the description is the prompt "
                         "each edit starts from.", "ask", node_ids=[base_node.id],
                         meta=ask_meta(base_node.id, intent.edit, intent.once),
                         notes=notes)]
    how = "The LLM describes it as" if seen else "I'll describe it as"
    replies = [turn.say(f"{lead} {how} \"{intent.caption}\".", "upload",
                        node_ids=[n.id for n in nodes], notes=notes)]
    if intent.edit:
        replies += submit.edit(turn, intent.edit, intent.once, None)
    return replies


def pending_caption(store, head) -> dict | None:
    """What the agent asked about the head, if it is an upload still without a caption
    and the agent asked for one."""
    if head is None or head.caption or head.parent_id is not None:
        return None
    for msg in reversed(store.messages(head.conversation_id, kind="ask")):
        if msg.meta.get("caption_for") == head.id:
            return msg.meta
    return None


def caption_given(turn: Turn, caption: str, pending: dict) -> list[Reply]:
    """The answer to "what does it show?" becomes the upload's caption; the edit that
    waited for it runs."""
    caption = re.sub(r"^(?:it's|it is|this is|it shows|that's|that is)\s+", "", caption,
                     flags=re.IGNORECASE).strip(" .")
    node_id = pending["caption_for"]
    turn.store.set_caption(node_id, caption)
    replies = [turn.say(f"Thanks: I'll describe it as \"{caption}\".", "upload",
                        user_text=turn.text, node_ids=[node_id])]
    if pending.get("instruction"):
        request, once = pending["instruction"], pending.get("once")
        if once is None:  # none given, or asked before they were kept with the question
            request, once = one_off_settings(request)
        if pending.get("region"):  # the box or mask marked for the edit that waited
            turn = replace(turn, region=pending["region"])
        replies += submit.edit(turn, request, once, None)
    return replies
