"""a deputy (副网格员) for every grid, and grid numbers kept per doctor

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deputy_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("doctor_number", sa.SmallInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_grids_deputy_id"), ["deputy_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_grids_deputy_id_patients"), "patients", ["deputy_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_grids_deputy_id_patients"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_grids_deputy_id"))
        batch_op.drop_column("doctor_number")
        batch_op.drop_column("deputy_id")
