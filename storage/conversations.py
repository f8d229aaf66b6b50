"""Conversation calls of the `Store` (mixed in; see storage/repository.py): create, list,
rename, edit settings, delete."""

from __future__ import annotations

from sqlalchemy import delete, select

from mtedit.text import clean
from storage.ids import json_copy, new_id
from storage.models import ConversationRow, ImageNodeRow, JobRow, MessageRow, PlanRow, utcnow
from storage.records import Conversation


def _conversation(row: ConversationRow) -> Conversation:
    return Conversation(
        id=row.id, title=row.title, created_at=row.created_at, updated_at=row.updated_at,
        head_node_id=row.head_node_id, settings=dict(row.settings or {}),
    )


class ConversationQueries:
    """Needs `transaction()`, `reading()` and `_conv_row(s, id)` from the Store."""

    def create_conversation(self, title: str = "") -> Conversation:
        now = utcnow()
        row = ConversationRow(id=new_id(), title=clean(title)[:200], created_at=now,
                              updated_at=now)
        with self.transaction() as s:
            s.add(row)
        return _conversation(row)

    def list_conversations(self, limit: int | None = None) -> list[Conversation]:
        """Most recently updated first."""
        q = select(ConversationRow).order_by(
            ConversationRow.updated_at.desc(), ConversationRow.created_at.desc()
        )
        if limit is not None:
            q = q.limit(limit)
        with self.reading() as s:
            return [_conversation(r) for r in s.scalars(q)]

    def latest_conversation(self) -> Conversation | None:
        """The most recently updated conversation, or None in an empty store."""
        found = self.list_conversations(limit=1)
        return found[0] if found else None

    def get_conversation(self, conversation_id: str) -> Conversation:
        with self.reading() as s:
            return _conversation(self._conv_row(s, conversation_id))

    def rename_conversation(self, conversation_id: str, title: str) -> Conversation:
        with self.transaction() as s:
            row = self._conv_row(s, conversation_id)
            row.title = clean(title)[:200]
            row.updated_at = utcnow()
        return _conversation(row)

    def set_settings(self, conversation_id: str, settings: dict) -> Conversation:
        """Replace the conversation's edit settings (a JSON object)."""
        if not isinstance(settings, dict):
            raise TypeError("settings must be a dict")
        with self.transaction() as s:
            row = self._conv_row(s, conversation_id)
            row.settings = json_copy(settings, "settings")
            row.updated_at = utcnow()
        return _conversation(row)

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete the conversation and all its rows. Its blobs stay on disk until
        `mtedit doctor --fix` removes those no other conversation uses."""
        with self.transaction() as s:
            self._conv_row(s, conversation_id)
            for model in (JobRow, PlanRow, MessageRow, ImageNodeRow):
                s.execute(delete(model).where(model.conversation_id == conversation_id))
            s.execute(delete(ConversationRow).where(ConversationRow.id == conversation_id))
