"""State out of chat text: messages.kind and messages.meta, conversations.settings.

Before this revision the agent kept its own notes as hidden role "system" messages
holding JSON ({"mtedit": "settings" | "caption" | "ask_caption", ...}) and recovered
a reply's kind from its wording. The upgrade moves those notes where they belong
(settings -> conversations.settings, a late caption -> image_nodes.caption, a pending
caption request -> the meta of the assistant's "ask" reply), sets every message's kind
once from the old wording, and deletes the hidden messages (their children and plans
move up to the hidden message's parent). A generated SQL script (offline mode) only adds
the columns: the conversion reads rows, so it runs in an online upgrade.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import json

import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# How the agent worded its replies up to this revision (first match wins).
_PREFIXES = (("Done:", "edit"), ("Generated", "generate"), ("Step ", "error"),
             ("Cancelled", "error"), ("The generation", "error"), ("History", "history"),
             ("From now on", "settings"), ("Back to", "rollback"), ("Selected", "rollback"),
             ("Forward to", "rollback"), ("Switched to", "rollback"),
             ("Before I edit", "ask"), ("I could not", "error"), ("There is no", "error"))


def old_kind(role: str, text: str) -> str:
    """The kind of a message written before this revision, read from its wording."""
    if role == "user":
        return "user"
    if "What does it show?" in text:
        return "ask"
    if text.startswith(("Stored", "Thanks")):
        return "upload"
    return next((kind for p, kind in _PREFIXES if text.startswith(p)), "text")


def _note(role: str, text: str) -> dict | None:
    if role != "system":
        return None
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) and "mtedit" in data else None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="text"))
        batch.add_column(sa.Column("meta", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("settings", sa.JSON(), nullable=False, server_default="{}"))
    if not context.is_offline_mode():  # a generated SQL script has no rows to read
        _convert(op.get_bind())


def _convert(conn) -> None:
    messages = sa.table(
        "messages", sa.column("id"), sa.column("conversation_id"),
        sa.column("parent_message_id"), sa.column("role"), sa.column("text"),
        sa.column("kind"), sa.column("meta", sa.JSON()), sa.column("created_at"),
    )
    conversations = sa.table("conversations", sa.column("id"), sa.column("settings", sa.JSON()))
    nodes = sa.table("image_nodes", sa.column("id"), sa.column("caption"))
    plans = sa.table("plans", sa.column("id"), sa.column("message_id"))
    rows = conn.execute(sa.select(
        messages.c.id, messages.c.conversation_id, messages.c.parent_message_id,
        messages.c.role, messages.c.text,
    ).order_by(messages.c.created_at, messages.c.id)).all()
    parent = {r.id: r.parent_message_id for r in rows}
    hidden: list[str] = []
    settings: dict[str, dict] = {}
    asks: dict[str, dict] = {}  # hidden ask_caption id -> meta for the reply under it
    for r in rows:
        note = _note(r.role, r.text)
        if note is None:
            conn.execute(messages.update().where(messages.c.id == r.id)
                         .values(kind=old_kind(r.role, r.text or "")))
            continue
        hidden.append(r.id)
        what = note.get("mtedit")
        if what == "settings" and isinstance(note.get("values"), dict):
            settings[r.conversation_id] = note["values"]  # oldest first: the last one wins
        elif what == "caption" and note.get("node_id") and note.get("caption"):
            conn.execute(nodes.update()
                         .where(nodes.c.id == note["node_id"], nodes.c.caption == "")
                         .values(caption=note["caption"]))
        elif what == "ask_caption" and note.get("node_id"):
            asks[r.id] = {"caption_for": note["node_id"],
                          "instruction": note.get("instruction") or ""}
    for r in rows:  # the assistant's question under a pending-caption note keeps what it was about
        if r.parent_message_id in asks and r.role == "assistant":
            conn.execute(messages.update().where(messages.c.id == r.id)
                         .values(meta=asks[r.parent_message_id]))
    for cid, values in settings.items():
        conn.execute(conversations.update().where(conversations.c.id == cid)
                     .values(settings=values))
    gone = set(hidden)

    def visible(mid):
        while mid is not None and mid in gone:
            mid = parent.get(mid)
        return mid

    for r in rows:
        if r.id not in gone and r.parent_message_id in gone:
            conn.execute(messages.update().where(messages.c.id == r.id)
                         .values(parent_message_id=visible(r.parent_message_id)))
    for mid in hidden:
        conn.execute(plans.update().where(plans.c.message_id == mid)
                     .values(message_id=visible(mid)))
    for mid in reversed(hidden):  # children first
        conn.execute(messages.delete().where(messages.c.id == mid))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("settings")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("meta")
        batch.drop_column("kind")
