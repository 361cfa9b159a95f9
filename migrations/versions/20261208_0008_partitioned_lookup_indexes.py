"""lookup indexes on the partitioned outbox and inbound tables (PostgreSQL)

The unique keys of these columns live in companion tables on PostgreSQL (0006);
lookups by them (the escalation tick's delivery facts, delivery-status callbacks,
a provider's retry) need an index on the partitioned table itself, or each one
scans every month.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 05:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOOKUP_INDEXES = (
    ("ix_outbox_idempotency_key", "outbox", "idempotency_key"),
    ("ix_outbox_provider_sid", "outbox", "provider_sid"),
    ("ix_inbound_messages_message_sid", "inbound_messages", "message_sid"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps the models' unique indexes on the tables themselves
    for name, table, column in LOOKUP_INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, _ in reversed(LOOKUP_INDEXES):
        op.drop_index(name, table_name=table)
