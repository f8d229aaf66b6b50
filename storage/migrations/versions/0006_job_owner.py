"""Who owns an active job, so a reader on the same machine knows at once that its process
is gone (owner_host, owner_pid, owner_started: the machine, the process id and the
process's start time, which tells a reused id apart); and when and to which broker its
id was sent (sent_at, sent_to: a broker that restarted without its data gets it again).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("owner_host", sa.String(200), nullable=True))
        batch.add_column(sa.Column("owner_pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("owner_started", sa.Float(), nullable=True))
        batch.add_column(sa.Column("sent_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("sent_to", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for name in ("sent_to", "sent_at", "owner_started", "owner_pid", "owner_host"):
            batch.drop_column(name)
