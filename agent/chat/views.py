"""The read side: what the page renders and scripts read, as plain immutable records
(Reply, MessageView, NodeView, ConversationView; JobView is agent/jobs/view.py's), and
the functions that build them from the store (messages, lineage, node, image bytes).

Ids are strings everywhere on this side of the agent (whatever the store uses inside).
Times are seconds since the epoch (float, UTC).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

from agent.jobs import damage
from agent.lineage import walks
from agent.planning.plan import EditPlan
from editing_core.images import png_bytes

ReplyKind = Literal[
    "text",  # a plain answer (question, help)
    "edit",  # an edit finished: node_ids are the new nodes, plan is what ran
    "queued",  # an edit was queued (send(wait=False)): job_id tells which job to poll
    "upload",  # uploads stored: node_ids are the new root nodes, the first is the head
    "generate",  # an image generated from a text prompt: node_ids = [the new root]
    "ask",  # the agent needs something first (e.g. a caption for an upload)
    "rollback",  # the head moved (undo, redo, branch switch, "before the hat", a click)
    "history",  # the lineage as text
    "settings",  # an edit setting changed
    "error",  # nothing changed, or what did change is said in the text
]

@dataclass(frozen=True)
class Reply:
    """One assistant reply to a user message (send returns a list of them)."""

    text: str
    kind: ReplyKind = "text"
    node_ids: tuple[str, ...] = ()
    plan: EditPlan | None = None
    job_id: str | None = None
    message_id: str | None = None  # the stored assistant message, when one was stored
    notes: tuple[str, ...] = ()  # e.g. "the LLM planner failed (timeout); offline plan used"
    role: str = "assistant"


@dataclass(frozen=True)
class MessageView:
    """A message on the current branch of the chat (messages() returns root .. tip)."""

    id: str
    role: str  # "user" | "assistant"
    text: str
    kind: str  # a ReplyKind for assistant messages, "user" for user messages
    node_ids: tuple[str, ...]
    plan: EditPlan | None
    parent_id: str | None
    created_at: float
    job_id: str | None = None
    left_behind: bool = False  # a turn after the head, undone: shown greyed, not on the branch


@dataclass(frozen=True)
class NodeView:
    """An image of the conversation's lineage (lineage() returns all of them, oldest first)."""

    id: str
    parent_id: str | None  # None for uploads and generated images (roots)
    root_id: str
    kind: str  # "upload" | "edit" | "generate"
    caption: str  # the prompt that describes this image
    instruction: str  # the edit step that made it ("" for roots)
    focus_words: tuple[str, ...]
    params: dict
    seed: int | None
    created_at: float
    depth: int  # 0 for a root; the "#n" shown in the history and used by "back to turn n"
    width: int | None = None
    height: int | None = None
    is_head: bool = False
    on_head_path: bool = False  # an ancestor of the head (or the head itself)
    left_behind: bool = False  # after the head on its branch: undone, a redo brings it back
    check: dict | None = None  # what came back (agent/jobs/checking.py); None: unchecked
    # the share of the picture its edit was limited to (its mask: ChatSession.region_overlay);
    # None: the edit could change everything
    region: float | None = None
    masked: bool = False  # its edit was limited to a region (a mask is stored with it)


@dataclass(frozen=True)
class ConversationView:
    id: str
    title: str
    created_at: float
    head_node_id: str | None
    updated_at: float | None = None
    extra: dict = field(default_factory=dict)


# -- building the views from the store's records --------------------------------------

def conversation_view(c) -> ConversationView:
    return ConversationView(id=c.id, title=c.title, created_at=c.created_at.timestamp(),
                            head_node_id=c.head_node_id,
                            updated_at=c.updated_at.timestamp() if c.updated_at else None)


def node_view(n, is_head: bool, on_path: bool, left_behind: bool = False) -> NodeView:
    return NodeView(id=n.id, parent_id=n.parent_id, root_id=n.root_id, kind=n.kind,
                    caption=n.caption, instruction=n.instruction or "",
                    focus_words=tuple(n.focus_words), params=dict(n.params), seed=n.seed,
                    created_at=n.created_at.timestamp() if n.created_at else 0.0, depth=n.depth,
                    width=n.width, height=n.height, is_head=is_head, on_head_path=on_path,
                    left_behind=left_behind,
                    check=dict(n.check_result) if n.check_result is not None else None,
                    region=_share(n) if n.mask_sha256 else None, masked=bool(n.mask_sha256))


def _share(n) -> float | None:
    """The share of the picture a node's edit was limited to, as its params recorded it."""
    where = (n.params or {}).get("region")
    coverage = where.get("coverage") if isinstance(where, dict) else None
    return float(coverage) if isinstance(coverage, (int, float)) else None


def left_behind(nodes, head_id: str | None) -> list:
    """The turns after the head on its branch, oldest first: what an undo left (the path
    from the head down to the most recent image below it; empty when the head is a tip)."""
    if head_id is None:
        return []
    kids: dict[str, list] = {}
    for n in nodes:
        if n.parent_id is not None:
            kids.setdefault(n.parent_id, []).append(n)
    newest: dict[str, tuple] = {}  # node id -> (created_at, id) of the newest image below it

    def stamp(n) -> tuple:
        return (n.created_at.timestamp() if n.created_at else 0.0, n.id)

    for n in sorted(nodes, key=lambda n: n.depth, reverse=True):  # children first
        newest[n.id] = max([stamp(n)] + [newest[k.id] for k in kids.get(n.id, ())
                                         if k.id in newest])
    out, cur, seen = [], head_id, {head_id}
    while kids.get(cur):
        nxt = max(kids[cur], key=lambda k: newest.get(k.id, stamp(k)))
        if nxt.id in seen:  # a broken tree never loops
            break
        seen.add(nxt.id)
        out.append(nxt)
        cur = nxt.id
    return out


def _plan_of(row) -> EditPlan | None:
    if row is None:
        return None
    try:
        return EditPlan.model_validate({"steps": row.steps})
    except ValueError:
        return None


def messages(store, conversation_id: str | None) -> list[MessageView]:
    """The messages of the conversation's current chat branch, oldest first, with the turns
    an undo left after the head (their request and result, `left_behind`) where they
    happened."""
    if conversation_id is None:
        return []
    tip = store.latest_message(conversation_id)
    if tip is None:
        return []
    plans = {p.message_id: p for p in store.plans(conversation_id)}
    jobs = {}
    for job in store.list_jobs(conversation_id, limit=200):
        for nid in job.result_node_ids:
            jobs[nid] = job.id
    branch = store.message_path(tip.id)
    shown = [(m, False) for m in branch] + [(m, True) for m in _undone(store, conversation_id,
                                                                        branch)]
    shown.sort(key=lambda pair: (pair[0].created_at, pair[0].id))
    out, prev_user = [], None
    for msg, behind in shown:
        if msg.role == "system":
            continue
        if msg.role == "user":
            prev_user = msg
            row = plans.get(msg.id)
        else:
            row = plans.get(msg.parent_id) or (plans.get(prev_user.id) if prev_user else None)
        plan = _plan_of(row) if msg.role == "user" or msg.kind == "edit" else None
        out.append(MessageView(
            id=msg.id, role=msg.role, text=msg.text, kind=msg.kind,
            node_ids=tuple(msg.node_ids), plan=plan, parent_id=msg.parent_id,
            created_at=msg.created_at.timestamp(),
            job_id=next((jobs[n] for n in msg.node_ids if n in jobs), None),
            left_behind=behind))
    return out


def _undone(store, conversation_id: str, branch) -> list:
    """Messages off the chat's branch that made the turns after the head: each result
    showing one of them, and the request it answered."""
    head = store.get_conversation(conversation_id).head_node_id
    after = {n.id for n in left_behind(store.nodes(conversation_id), head)}
    if not after:
        return []
    on_branch = {m.id for m in branch}
    rest = {m.id: m for m in store.messages(conversation_id) if m.id not in on_branch}
    out: dict[str, object] = {}
    for m in rest.values():
        if m.role == "assistant" and m.kind in ("edit", "error") and after & set(m.node_ids):
            out[m.id] = m
            if (ask := rest.get(m.parent_id or "")) is not None and ask.role == "user":
                out[ask.id] = ask
    return list(out.values())


def lineage(store, conversation_id: str | None) -> list[NodeView]:
    """All image nodes of the conversation (every branch), oldest first."""
    if conversation_id is None:
        return []
    nodes = store.nodes(conversation_id)
    head = store.get_conversation(conversation_id).head_node_id
    on_path = {n.id for n in walks.path(nodes, head)} if head else set()
    after = {n.id for n in left_behind(nodes, head)}
    return [node_view(n, n.id == head, n.id in on_path, n.id in after) for n in nodes]


def head_id(store, conversation_id: str | None) -> str | None:
    """The node the next edit starts from (None before any image)."""
    if conversation_id is None:
        return None
    return store.get_conversation(conversation_id).head_node_id


def own_node(store, conversation_id: str | None, node_id: str):
    """The store's node, when it belongs to the conversation (KeyError otherwise)."""
    from storage import NotFoundError

    try:
        node = store.get_node(node_id)
    except NotFoundError as exc:
        raise KeyError(node_id) from exc
    if node.conversation_id != conversation_id:
        raise KeyError(node_id)
    return node


def node(store, conversation_id: str | None, node_id: str) -> NodeView:
    """One node of the conversation (KeyError if unknown)."""
    found = own_node(store, conversation_id, node_id)
    head = head_id(store, conversation_id)
    on_path = {n.id for n in store.path(head)} if head else set()
    return node_view(found, found.id == head, found.id in on_path)


def image_bytes(store, conversation_id: str | None, node_id: str) -> bytes:
    """The node's image as PNG bytes (DamagedImage, a ValueError naming what doctor
    would say, when its blob is missing or corrupt)."""
    return damage.read_image(store, own_node(store, conversation_id, node_id))


def image_problem(store, conversation_id: str | None, node_id: str) -> str | None:
    """What doctor would say about the node's image, or None when it is intact."""
    return damage.image_problem(store, own_node(store, conversation_id, node_id))


def thumbnail(png: bytes, size: int = 128) -> bytes:
    """A PNG thumbnail of the image, long side `size` pixels."""
    img = Image.open(io.BytesIO(png))
    img.thumbnail((size, size))
    return png_bytes(img)
