"""SQLAlchemy 2.0 typed ORM models: conversations, messages, image nodes, plans, jobs.

The migrations in storage/migrations/versions create exactly this schema; a test
compares the two. `conversations.head_node_id` is a plain column (no foreign key)
because nodes also point at their conversation; the store checks it on write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

ID = String(32)


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC on every backend, returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict] = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class ConversationRow(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    head_node_id: Mapped[str | None] = mapped_column(ID)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the edit settings


class _TimelineRow:
    """A row of a conversation's timeline (its images, its messages), read back by
    conversation in the order made: index ix_<table>_conversation_created."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        name = f"ix_{cls.__tablename__}_conversation_created"
        return (Index(name, "conversation_id", "created_at"),)

    # sort_order: first in the table, as the migrations create them.
    id: Mapped[str] = mapped_column(ID, primary_key=True, sort_order=-1)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), sort_order=-1)


class ImageNodeRow(_TimelineRow, Base):
    __tablename__ = "image_nodes"

    parent_id: Mapped[str | None] = mapped_column(ForeignKey("image_nodes.id"), index=True)
    root_id: Mapped[str] = mapped_column(ID)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))
    caption: Mapped[str] = mapped_column(Text, default="")
    instruction: Mapped[str | None] = mapped_column(Text)
    target_prompt: Mapped[str | None] = mapped_column(Text)
    focus_words: Mapped[list[Any]] = mapped_column(default=list)
    preset: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seed: Mapped[int | None] = mapped_column(Integer)
    model_id: Mapped[str | None] = mapped_column(Text)
    image_sha256: Mapped[str] = mapped_column(String(64), index=True)
    latent_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="ready")
    step_key: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    check_result: Mapped[dict[str, Any] | None] = mapped_column()  # revision 0007
    # the mask the edit was limited to, a PNG blob (revision 0008); None: edited everywhere
    mask_sha256: Mapped[str | None] = mapped_column(String(64), index=True)


class MessageRow(_TimelineRow, Base):
    __tablename__ = "messages"

    parent_message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="text")
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    node_ids: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlanRow(Base):
    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id"), index=True)
    request: Mapped[str] = mapped_column(Text, default="")
    steps: Mapped[list[Any]] = mapped_column(default=list)
    planner: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRow(Base):
    """Added by the second schema revision."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_conversation_status", "conversation_id", "status"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str | None] = mapped_column(Text)
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result_node_ids: Mapped[list[Any]] = mapped_column(default=list)
    worker: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime | None] = mapped_column()  # revision 0005
    started_at: Mapped[datetime | None] = mapped_column()
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default="0")
    # revision 0006: the owning process (storage/owners.py) and the broker it was sent to
    owner_host: Mapped[str | None] = mapped_column(String(200))
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    owner_started: Mapped[float | None] = mapped_column(Float)
    sent_at: Mapped[datetime | None] = mapped_column()
    sent_to: Mapped[str | None] = mapped_column(String(64))


class StoreMetaRow(Base):
    """The store's own facts (revision 0005): "store_id", also written in the blob folder."""

    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
