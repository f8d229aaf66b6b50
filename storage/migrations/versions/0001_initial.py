"""First schema: conversations, image nodes (lineage), messages (tree), plans.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", ID, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("head_node_id", ID, nullable=True),
    )
    op.create_index("ix_conversations_updated_at", "conversations", ["updated_at"])

    op.create_table(
        "image_nodes",
        sa.Column("id", ID, primary_key=True),
        sa.Column("conversation_id", ID, sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("parent_id", ID, sa.ForeignKey("image_nodes.id"), nullable=True),
        sa.Column("root_id", ID, nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("caption", sa.Text(), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=True),
        sa.Column("target_prompt", sa.Text(), nullable=True),
        sa.Column("focus_words", sa.JSON(), nullable=False),
        sa.Column("preset", sa.String(64), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("model_id", sa.Text(), nullable=True),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("latent_sha256", sa.String(64), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_image_nodes_parent_id", "image_nodes", ["parent_id"])
    op.create_index("ix_image_nodes_image_sha256", "image_nodes", ["image_sha256"])
    op.create_index("ix_image_nodes_latent_sha256", "image_nodes", ["latent_sha256"])
    op.create_index(
        "ix_image_nodes_conversation_created", "image_nodes", ["conversation_id", "created_at"]
    )

    op.create_table(
        "messages",
        sa.Column("id", ID, primary_key=True),
        sa.Column("conversation_id", ID, sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("parent_message_id", ID, sa.ForeignKey("messages.id"), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("node_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_messages_parent_message_id", "messages", ["parent_message_id"])
    op.create_index(
        "ix_messages_conversation_created", "messages", ["conversation_id", "created_at"]
    )

    op.create_table(
        "plans",
        sa.Column("id", ID, primary_key=True),
        sa.Column("conversation_id", ID, sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("message_id", ID, sa.ForeignKey("messages.id"), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("planner", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_plans_conversation_id", "plans", ["conversation_id"])
    op.create_index("ix_plans_message_id", "plans", ["message_id"])


def downgrade() -> None:
    op.drop_table("plans")
    op.drop_table("messages")
    op.drop_table("image_nodes")
    op.drop_table("conversations")
