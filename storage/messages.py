"""The chat side of the store: the message tree (a head move starts a new branch of
messages) and the planner's plans. Part of `Store` (mixed in)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from mtedit.text import clean
from storage.errors import StorageError
from storage.ids import get_row, json_copy, new_id, root_first
from storage.models import MessageRow, PlanRow, utcnow
from storage.records import Message, Plan

ROLES = ("user", "assistant", "system")


def _message(row: MessageRow) -> Message:
    return Message(
        id=row.id, conversation_id=row.conversation_id, parent_id=row.parent_message_id,
        role=row.role, text=row.text, node_ids=tuple(row.node_ids or ()),
        created_at=row.created_at, kind=row.kind, meta=dict(row.meta or {}),
    )


def _plan(row: PlanRow) -> Plan:
    return Plan(
        id=row.id, conversation_id=row.conversation_id, message_id=row.message_id,
        request=row.request, steps=list(row.steps or []), planner=row.planner,
        created_at=row.created_at,
    )


class MessageQueries:
    """The message and plan methods of `Store` (it provides transaction(), reading() and
    _conv_row)."""

    # ---------------------------------------------------------------- messages

    def add_message(
        self, conversation_id: str, role: str, text: str, parent_id: str | None = None, *,
        node_ids: Sequence[str] = (), root: bool = False, kind: str | None = None,
        meta: dict | None = None,
    ) -> Message:
        """Append a chat message. parent_id None means after the conversation's most recent
        message (continuing the current branch); give an earlier message to start a new
        branch after a rollback, or root=True for a new first message. node_ids: images
        the message shows or produced. kind: what the message is ("user" for user
        messages, the default; else e.g. edit, ask, error; "text" by default). meta: a JSON
        object the writer needs back later (e.g. the upload an "ask" is about)."""
        with self.transaction() as s:
            row = self._insert_message(s, conversation_id, role, text, parent_id,
                                       node_ids=node_ids, root=root, kind=kind, meta=meta)
        return _message(row)

    def _insert_message(
        self, s: Session, conversation_id: str, role: str, text: str,
        parent_id: str | None = None, *, node_ids: Sequence[str] = (), root: bool = False,
        kind: str | None = None, meta: dict | None = None,
    ) -> MessageRow:
        """add_message inside the caller's transaction."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        conv = self._conv_row(s, conversation_id)
        if parent_id is not None:
            parent = self._message_row(s, parent_id)
            if parent.conversation_id != conversation_id:
                raise StorageError(f"message {parent_id} belongs to another conversation")
        elif not root:
            parent_id = s.scalar(
                select(MessageRow.id)
                .where(MessageRow.conversation_id == conversation_id)
                .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
                .limit(1)
            )
        row = MessageRow(
            id=new_id(), conversation_id=conversation_id, parent_message_id=parent_id,
            role=role, text=clean(text), kind=kind or ("user" if role == "user" else "text"),
            meta=json_copy(meta or {}, "meta"), node_ids=[str(n) for n in node_ids],
            created_at=utcnow(),
        )
        s.add(row)
        conv.updated_at = row.created_at
        return row

    def get_message(self, message_id: str) -> Message:
        with self.reading() as s:
            return _message(self._message_row(s, message_id))

    def messages(self, conversation_id: str, kind: str | None = None) -> list[Message]:
        """Every message of every branch (or those of one kind), oldest first."""
        with self.reading() as s:
            self._conv_row(s, conversation_id)
            return [_message(r) for r in self._message_rows(s, conversation_id, kind)]

    def latest_message(self, conversation_id: str, kind: str | None = None) -> Message | None:
        """The most recent message (of the given kind), or None."""
        q = select(MessageRow).where(MessageRow.conversation_id == conversation_id)
        if kind is not None:
            q = q.where(MessageRow.kind == kind)
        q = q.order_by(MessageRow.created_at.desc(), MessageRow.id.desc()).limit(1)
        with self.reading() as s:
            self._conv_row(s, conversation_id)
            row = s.scalar(q)
            return _message(row) if row is not None else None

    def message_path(self, message_id: str) -> list[Message]:
        """The branch of the chat that leads to `message_id`, first message first."""
        with self.reading() as s:
            msg = self._message_row(s, message_id)
            by_id = {r.id: r for r in self._message_rows(s, msg.conversation_id)}
        return [_message(r) for r in root_first(by_id, message_id, "parent_message_id")]

    # ------------------------------------------------------------------- plans

    def add_plan(
        self, message_id: str, request: str, steps: Sequence[dict], planner: str
    ) -> Plan:
        """Record the planner's steps (JSON-serializable dicts) for the request in a message."""
        with self.transaction() as s:
            msg = self._message_row(s, message_id)
            row = PlanRow(
                id=new_id(), conversation_id=msg.conversation_id, message_id=message_id,
                request=clean(request), steps=json_copy(list(steps), "steps"), planner=planner,
                created_at=utcnow(),
            )
            s.add(row)
        return _plan(row)

    def get_plan(self, plan_id: str) -> Plan:
        with self.reading() as s:
            return _plan(get_row(s, PlanRow, plan_id, "plan"))

    def plans(self, conversation_id: str, message_id: str | None = None) -> list[Plan]:
        """Plans of the conversation (or of one message), oldest first."""
        q = select(PlanRow).where(PlanRow.conversation_id == conversation_id)
        if message_id is not None:
            q = q.where(PlanRow.message_id == message_id)
        with self.reading() as s:
            return [_plan(r) for r in s.scalars(q.order_by(PlanRow.created_at, PlanRow.id))]

    @staticmethod
    def _message_row(s: Session, message_id: str) -> MessageRow:
        return get_row(s, MessageRow, message_id, "message")

    @staticmethod

    @staticmethod
    def _message_rows(
        s: Session, conversation_id: str, kind: str | None = None
    ) -> list[MessageRow]:
        q = select(MessageRow).where(MessageRow.conversation_id == conversation_id)
        if kind is not None:
            q = q.where(MessageRow.kind == kind)
        return list(s.scalars(q.order_by(MessageRow.created_at, MessageRow.id)))
