"""What the agent hands to the UI and to scripts: plain, immutable records.

Ids are strings everywhere on this side of the agent (whatever the store uses inside).
Times are seconds since the epoch (float, UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agent.plan import EditPlan

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

def message_kind(text: str) -> str:
    """The ReplyKind of a stored assistant message, read from the agent's own wording."""
    prefixes = (("Done:", "edit"), ("Generated", "generate"), ("Step ", "error"),
                ("Cancelled", "error"), ("The generation", "error"), ("History", "history"),
                ("From now on", "settings"), ("Back to", "rollback"), ("Selected", "rollback"),
                ("Forward to", "rollback"), ("Switched to", "rollback"),
                ("Before I edit", "ask"), ("I could not", "error"), ("There is no", "error"))
    if "What does it show?" in text:
        return "ask"
    if text.startswith(("Stored", "Thanks")):
        return "upload"
    return next((kind for p, kind in prefixes if text.startswith(p)), "text")


def conversation_view(c) -> ConversationView:
    return ConversationView(c.id, c.title, c.created_at.timestamp(), c.head_node_id,
                            c.updated_at.timestamp() if c.updated_at else None)


def node_view(n, caption: str, is_head: bool, on_path: bool) -> NodeView:
    return NodeView(id=n.id, parent_id=n.parent_id, root_id=n.root_id, kind=n.kind,
                    caption=caption, instruction=n.instruction or "",
                    focus_words=tuple(n.focus_words), params=dict(n.params), seed=n.seed,
                    created_at=n.created_at.timestamp() if n.created_at else 0.0, depth=n.depth,
                    width=n.width, height=n.height, is_head=is_head, on_head_path=on_path)
