"""Jobs across processes and machines: heartbeat and cancel flag on jobs, a step key on
image nodes (a re-run step never adds a second node), and the store's identity (the
blob folder must carry the same id as the database).

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("started_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("cancel_requested", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("image_nodes") as batch:
        batch.add_column(sa.Column("step_key", sa.String(64), nullable=True))
        batch.create_index("ix_image_nodes_step_key", ["step_key"], unique=True)
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("store_meta")
    with op.batch_alter_table("image_nodes") as batch:
        batch.drop_index("ix_image_nodes_step_key")
        batch.drop_column("step_key")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("cancel_requested")
        batch.drop_column("started_at")
        batch.drop_column("heartbeat_at")
