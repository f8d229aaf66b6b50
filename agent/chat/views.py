"""The read side: what the page renders and scripts read, as plain immutable records
(Reply, MessageView, NodeView, JobView, ConversationView), and the ChatSession calls that
build them from the store (messages, lineage, node, head, image bytes).

Ids are strings everywhere on this side of the agent (whatever the store uses inside).
Times are seconds since the epoch (float, UTC).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

from agent.jobs import damage
from agent.lineage import walks as lineage
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

JobStatus = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]


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


@dataclass(frozen=True)
class JobView:
    """Progress of an edit job; survives a page reload (the store keeps it)."""

    id: str
    conversation_id: str
    status: JobStatus
    done: int  # model calls done over the whole job
    total: int  # model calls in the whole job (0 while unknown)
    stage: str  # "queued" | "load" | "encode" | "invert" | "sample" | "save" | ""
    step: int  # 1-based plan step now running (0 before the first)
    steps: int  # plan steps in the job
    elapsed_s: float
    eta_s: float | None
    error: str | None = None
    node_ids: tuple[str, ...] = ()  # nodes stored so far
    message_id: str | None = None  # the assistant message written when the job ended
    estimate_s: float | None = None  # the whole job, from measured seconds per model call

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "cancelled", "interrupted")


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


def node_view(n, caption: str, is_head: bool, on_path: bool) -> NodeView:
    return NodeView(id=n.id, parent_id=n.parent_id, root_id=n.root_id, kind=n.kind,
                    caption=caption, instruction=n.instruction or "",
                    focus_words=tuple(n.focus_words), params=dict(n.params), seed=n.seed,
                    created_at=n.created_at.timestamp() if n.created_at else 0.0, depth=n.depth,
                    width=n.width, height=n.height, is_head=is_head, on_head_path=on_path)


def _plan_of(row) -> EditPlan | None:
    if row is None:
        return None
    try:
        return EditPlan.model_validate({"steps": row.steps})
    except ValueError:
        return None


class PageViews:
    """ChatSession's read calls (what the page renders)."""

    def messages(self) -> list[MessageView]:
        """The messages of the current chat branch, oldest first."""
        cid = self._cid
        if cid is None:
            return []
        tip = self.store.latest_message(cid)
        if tip is None:
            return []
        plans = {p.message_id: p for p in self.store.plans(cid)}
        jobs = {}
        for job in self.store.list_jobs(cid, limit=200):
            for nid in job.result_node_ids:
                jobs[nid] = job.id
        out, prev_user = [], None
        for msg in self.store.message_path(tip.id):
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
                job_id=next((jobs[n] for n in msg.node_ids if n in jobs), None)))
        return out

    def lineage(self) -> list[NodeView]:
        """All image nodes of the conversation (every branch), oldest first."""
        cid = self._cid
        if cid is None:
            return []
        nodes = self.store.nodes(cid)
        head = self.store.get_conversation(cid).head_node_id
        on_path = {n.id for n in lineage.path(nodes, head)} if head else set()
        return [node_view(n, self.caption_of(n), n.id == head, n.id in on_path) for n in nodes]

    def head(self) -> str | None:
        """The node the next edit starts from (None before any image)."""
        if self._cid is None:
            return None
        return self.store.get_conversation(self._cid).head_node_id

    def node(self, node_id: str) -> NodeView:
        """One node of the current conversation (KeyError if unknown)."""
        node = self._own_node(node_id)
        head = self.head()
        on_path = {n.id for n in self.store.path(head)} if head else set()
        return node_view(node, self.caption_of(node), node.id == head, node.id in on_path)

    def _own_node(self, node_id: str):
        from storage import NotFoundError

        try:
            node = self.store.get_node(node_id)
        except NotFoundError as exc:
            raise KeyError(node_id) from exc
        if node.conversation_id != self._cid:
            raise KeyError(node_id)
        return node

    def image_bytes(self, node_id: str) -> bytes:
        """The node's image as PNG bytes (DamagedImage, a ValueError naming what doctor
        would say, when its blob is missing or corrupt)."""
        return damage.read_image(self.store, self._own_node(node_id))

    def image_problem(self, node_id: str) -> str | None:
        """What doctor would say about the node's image, or None when it is intact."""
        return damage.image_problem(self.store, self._own_node(node_id))

    def thumbnail(self, node_id: str, size: int = 128) -> bytes:
        """A PNG thumbnail of the node's image, long side `size` pixels."""
        img = Image.open(io.BytesIO(self.image_bytes(node_id)))
        img.thumbnail((size, size))
        return png_bytes(img)
