"""followups: the national follow-up record

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=12), nullable=False),
        sa.Column("symptoms", sa.JSON(), nullable=False),
        sa.Column("symptoms_text", sa.Text(), nullable=True),
        sa.Column("systolic", sa.SmallInteger(), nullable=True),
        sa.Column("diastolic", sa.SmallInteger(), nullable=True),
        sa.Column("heart_rate", sa.SmallInteger(), nullable=True),
        sa.Column("weight_kg", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column("height_cm", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column("bmi", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("glucose_mmol", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("hba1c", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("hypoglycaemia", sa.String(length=12), nullable=True),
        sa.Column("cigarettes_per_day", sa.SmallInteger(), nullable=True),
        sa.Column("alcohol_liang_per_day", sa.SmallInteger(), nullable=True),
        sa.Column("exercise", sa.String(length=60), nullable=True),
        sa.Column("salt", sa.String(length=12), nullable=True),
        sa.Column("adherence", sa.String(length=16), nullable=True),
        sa.Column("adverse_reaction", sa.Boolean(), nullable=False),
        sa.Column("adverse_text", sa.Text(), nullable=True),
        sa.Column("classification", sa.String(length=16), nullable=True),
        sa.Column("medicines", sa.JSON(), nullable=False),
        sa.Column("referral_reason", sa.Text(), nullable=True),
        sa.Column("referral_to", sa.String(length=120), nullable=True),
        sa.Column("next_due", sa.Date(), nullable=False),
        sa.Column("next_due_reason", sa.String(length=12), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["doctor_id"], ["doctors.id"]),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.create_index("ix_followups_doctor_id", ["doctor_id"], unique=False)
        batch_op.create_index("ix_followups_grid_id", ["grid_id"], unique=False)
        batch_op.create_index("ix_followups_visit_date", ["visit_date"], unique=False)
        batch_op.create_index(
            "ix_followups_patient_date", ["patient_id", "visit_date"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index("ix_followups_patient_date")
        batch_op.drop_index("ix_followups_visit_date")
        batch_op.drop_index("ix_followups_grid_id")
        batch_op.drop_index("ix_followups_doctor_id")
    op.drop_table("followups")
