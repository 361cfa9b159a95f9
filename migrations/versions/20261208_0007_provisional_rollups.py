"""provisional rollups of the current week, refreshed incrementally

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANGE_INDEXES = (
    ("ix_readings_reported_at", "readings", "reported_at"),
    ("ix_member_reports_updated_at", "member_reports", "updated_at"),
    ("ix_weekly_reports_last_received_at", "weekly_reports", "last_received_at"),
    ("ix_exchange_attendance_reported_at", "exchange_attendance", "reported_at"),
    ("ix_urgent_reports_acknowledged_at", "urgent_reports", "acknowledged_at"),
    ("ix_escalations_updated_at", "escalations", "updated_at"),
    ("ix_memberships_joined_at", "memberships", "joined_at"),
    ("ix_memberships_left_at", "memberships", "left_at"),
    ("ix_patients_updated_at", "patients", "updated_at"),
    ("ix_followups_recorded_at", "followups", "recorded_at"),
)


def upgrade() -> None:
    with op.batch_alter_table("rollup_snapshots", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("provisional", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("parts", sa.JSON(), nullable=True))
    op.create_table(
        "rollup_refreshes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("full_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("layout", sa.String(length=64), nullable=False),
        sa.Column("marks", sa.JSON(), nullable=False),
        sa.Column("grids", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_refreshes")),
        sa.UniqueConstraint("week", name=op.f("uq_rollup_refreshes_week")),
    )
    for name, table, column in CHANGE_INDEXES:
        op.create_index(name, table, [column], unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(CHANGE_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("rollup_refreshes")
    with op.batch_alter_table("rollup_snapshots", schema=None) as batch_op:
        batch_op.drop_column("parts")
        batch_op.drop_column("provisional")
