"""Plain frozen records returned by the store.

They hold copies of the row values, so callers in any thread can keep and read them
without touching a database session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

NODE_KINDS = ("upload", "edit", "generate", "op")  # op: an exact operation (flip, crop ...)
# What a message is: "user" for the user's, else what the assistant's reply was.
MESSAGE_KINDS = ("user", "text", "edit", "queued", "upload", "generate", "ask", "rollback",
                 "history", "settings", "error")
JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")
JOB_ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    head_node_id: str | None
    settings: dict[str, Any] = field(default_factory=dict, hash=False)  # edit settings


@dataclass(frozen=True)
class Node:
    """One image in the lineage: an upload or generation (a root) or an edit of its parent."""

    id: str
    conversation_id: str
    parent_id: str | None
    root_id: str
    depth: int  # turns from the root: 0 for uploads and generations
    kind: str  # upload | edit | generate
    caption: str  # a prompt that describes this image
    instruction: str | None  # the user's words that produced it (edits)
    target_prompt: str | None
    focus_words: tuple[str, ...]
    preset: str | None
    params: dict[str, Any] = field(hash=False)
    seed: int | None = None
    model_id: str | None = None
    image_sha256: str = ""
    latent_sha256: str | None = None
    width: int = 0
    height: int = 0
    status: str = "ready"
    timings: dict[str, float] = field(default_factory=dict, hash=False)
    created_at: datetime | None = None
    # What came back, checked once the node was stored (agent/jobs/checking.py): the
    # verdict, what the model's reader saw, the share of pixels changed. None: unchecked.
    check_result: dict[str, Any] | None = field(default=None, hash=False)
    # The region its edit was limited to: a PNG mask blob at the image's size, white where
    # the edit could change pixels (revision 0008). None: the edit could change anything.
    mask_sha256: str | None = None


@dataclass(frozen=True)
class Message:
    """One chat message; the chat is a tree: a rollback starts a new branch of messages."""

    id: str
    conversation_id: str
    parent_id: str | None
    role: str  # user | assistant | system
    text: str
    node_ids: tuple[str, ...]
    created_at: datetime
    kind: str = "text"  # "user" for user messages; else what the reply is (edit, ask, error ...)
    meta: dict[str, Any] = field(default_factory=dict, hash=False)  # e.g. the upload an ask is about


@dataclass(frozen=True)
class Plan:
    """A planner's answer to the request in one message."""

    id: str
    conversation_id: str
    message_id: str | None
    request: str
    steps: list[dict[str, Any]] = field(hash=False)
    planner: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True)
class Job:
    """An edit or generation job of the agent's executor, persisted so a page reload finds it."""

    id: str
    conversation_id: str | None
    kind: str
    status: str  # queued | running | done | failed | cancelled
    done: int
    total: int
    stage: str
    error: str | None
    request: dict[str, Any] = field(hash=False)
    result_node_ids: tuple[str, ...] = ()
    worker: str | None = None  # host:pid of the process that runs it (informative only)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    heartbeat_at: datetime | None = None  # refreshed every few seconds while a process owns it
    cancel_requested: bool = False
    started_at: datetime | None = None  # when a runner took it
    owner: tuple[str, int, float | None] | None = None  # (machine, pid, start) of its process
    sent_at: datetime | None = None  # when its id was handed to the broker (queue mode)
    sent_to: str | None = None  # that broker's run id

    @property
    def after_job(self) -> str | None:
        """The job this one is queued behind (it starts from that job's last node)."""
        return self.request.get("after_job")

    @property
    def active(self) -> bool:
        return self.status in JOB_ACTIVE
