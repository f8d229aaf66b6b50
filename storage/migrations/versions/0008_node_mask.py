"""Region-limited edits: an image node may carry the mask its edit was limited to (a PNG
blob of the content-addressed blob store, white where the edit could change pixels), so
the lineage shows it and "try again" reuses it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("image_nodes") as batch:
        batch.add_column(sa.Column("mask_sha256", sa.String(64), nullable=True))
        batch.create_index("ix_image_nodes_mask_sha256", ["mask_sha256"])


def downgrade() -> None:
    with op.batch_alter_table("image_nodes") as batch:
        batch.drop_index("ix_image_nodes_mask_sha256")
        batch.drop_column("mask_sha256")
