"""What came back: each image node may carry the check of its result (what the model's
reader saw against what was asked, how much changed inside and outside the edit's
region), one JSON column written after the node.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("image_nodes") as batch:
        batch.add_column(sa.Column("check_result", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("image_nodes") as batch:
        batch.drop_column("check_result")
