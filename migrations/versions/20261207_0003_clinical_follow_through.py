"""clinical follow-through: case kinds, outcomes, referral follow-ups, paused members

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="urgent", nullable=False)
        )
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("closed_by", sa.String(length=120), nullable=True))
        batch_op.add_column(
            sa.Column("close_reminders", sa.SmallInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("followup_due", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("followup_outcome", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("followup_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("followup_by", sa.String(length=120), nullable=True))
        batch_op.create_index("ix_escalations_followup_due", ["followup_due"], unique=False)
    with op.batch_alter_table("urgent_reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="urgent", nullable=False)
        )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("paused_until")
    with op.batch_alter_table("urgent_reports", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index("ix_escalations_followup_due")
        batch_op.drop_column("followup_by")
        batch_op.drop_column("followup_at")
        batch_op.drop_column("followup_outcome")
        batch_op.drop_column("followup_due")
        batch_op.drop_column("close_reminders")
        batch_op.drop_column("closed_by")
        batch_op.drop_column("outcome")
        batch_op.drop_column("kind")
