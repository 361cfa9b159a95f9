"""roster_changes: a row for each change to what the escalation hierarchy is built from

Written by triggers, whatever makes the change (the ORM, a bulk statement, SQL by
hand): a new, removed or changed facility or doctor, and a grid added, removed, or
given another clinic, doctor, coordinator or deputy, or closed. Other changes to a
grid (its exchange time, venue, number) leave it alone, so the cached hierarchy is not
rebuilt for them (grids.escalation.roster_graph).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WATCHED = {
    "facilities": ("code", "name", "level", "parent_id", "phone"),
    "doctors": ("code", "name", "phone", "facility_id", "language", "status"),
    "grids": ("code", "facility_id", "doctor_id", "coordinator_id", "deputy_id", "closed_at"),
}
"""The columns the hierarchy reads, by table."""


def upgrade() -> None:
    op.create_table(
        "roster_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_changes")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION roster_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN INSERT INTO roster_changes DEFAULT VALUES; RETURN NULL; END $$"
        )
        for table, columns in WATCHED.items():
            # Once a statement, however many rows it changed.
            op.execute(
                f"CREATE TRIGGER {table}_roster_changed AFTER INSERT OR DELETE OR TRUNCATE "
                f"OR UPDATE OF {', '.join(columns)} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION roster_changed()"
            )
        return
    # SQLite has row triggers only, and none may insert DEFAULT VALUES.
    for table, columns in WATCHED.items():
        for event, name in (
            ("INSERT", "insert"),
            ("DELETE", "delete"),
            (f"UPDATE OF {', '.join(columns)}", "update"),
        ):
            op.execute(
                f"CREATE TRIGGER {table}_roster_changed_{name} AFTER {event} ON {table} "
                "BEGIN INSERT INTO roster_changes (id) VALUES (NULL); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER {table}_roster_changed ON {table}")
        op.execute("DROP FUNCTION roster_changed()")
    else:
        for table in WATCHED:
            for name in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER {table}_roster_changed_{name}")
    op.drop_table("roster_changes")
