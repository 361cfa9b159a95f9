"""history partitioned by month on PostgreSQL; raw SMS text redaction marks

On PostgreSQL the tables that grow with time become `PARTITION BY RANGE` tables,
one partition a month plus DEFAULT (docs/partitions.md); their globally unique keys
that do not contain the partition key move to small companion tables kept by
triggers. SQLite keeps its plain tables. On both, `outbox` and `inbound_messages`
gain `redacted_at` (raw text retention) and a partial index of the rows not yet
redacted.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 03:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from grids.storage.partitions import (
    COMPANIONS,
    MONTHS_AHEAD,
    MOVING_ROWS,
    PARTITIONED,
    SKIP_TAKEN_KEYS,
    PartitionedTable,
    create_default,
    create_month,
    is_partition_name,
    month_of_week,
    months_from,
)

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REDACTED = (("outbox", "created_at"), ("inbound_messages", "received_at"))

# The unique constraints PostgreSQL holds in the companion tables, as the plain tables had them.
COMPANION_UNIQUES = {
    "outbox": (
        ("uq_outbox_idempotency_key", ["idempotency_key"]),
        ("uq_outbox_provider_sid", ["provider_sid"]),
    ),
    "inbound_messages": (("uq_inbound_messages_message_sid", ["message_sid"]),),
}
COMPANION_TYPES = {
    "idempotency_key": "varchar(200)",
    "provider_sid": "varchar(64)",
    "message_sid": "varchar(64)",
}

# Unique constraints PostgreSQL widens by the partition key → their names before.
WIDENED = {
    "uq_member_reports_weekly_report_id_patient_id_week": (
        "uq_member_reports_weekly_report_id_patient_id"
    ),
}


def upgrade() -> None:
    for table, _time in REDACTED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _partition(bind)
    for table, time in REDACTED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                f"ix_{table}_unredacted",
                [time],
                unique=False,
                postgresql_where=sa.text("redacted_at IS NULL"),
                sqlite_where=sa.text("redacted_at IS NULL"),
            )


def downgrade() -> None:
    for table, _time in REDACTED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_unredacted")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _unpartition(bind)
    for table, _time in REDACTED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("redacted_at")


# --- PostgreSQL: plain tables into partitioned ones ---


def _shape(bind: sa.Connection, name: str) -> dict[str, Any]:
    inspector = sa.inspect(bind)
    return {
        "pk": inspector.get_pk_constraint(name),
        "uniques": inspector.get_unique_constraints(name),
        "indexes": [
            index
            for index in inspector.get_indexes(name)
            if not index["unique"] and not index.get("duplicates_constraint")
        ],
        # Not PostgreSQL's own per-partition copies of a key to a partitioned table.
        "fks": [
            fk
            for fk in inspector.get_foreign_keys(name)
            if not is_partition_name(fk["referred_table"])
        ],
    }


def _partitioned_names() -> set[str]:
    return {table.name for table in PARTITIONED}


def _drop_foreign_keys_to_partitioned(shapes: dict[str, dict[str, Any]]) -> None:
    for name, shape in shapes.items():
        for fk in shape["fks"]:
            if fk["referred_table"] in _partitioned_names():
                op.drop_constraint(fk["name"], name, type_="foreignkey")


def _move_sequence(bind: sa.Connection, source: str, target: str) -> None:
    sequence = bind.scalar(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": source})
    if sequence is not None:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {target}.id")


def _rebuild(name: str, definition: str) -> None:
    """Rename `name` aside and create it again, with the same columns, defaults and
    checks, as `definition` says; the caller moves the rows and drops the old one."""
    old = f"{name}_before_0006"
    op.execute(f"ALTER TABLE {name} RENAME TO {old}")
    op.execute(
        f"CREATE TABLE {name} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) {definition}"
    )


def _data_months(bind: sa.Connection, table: PartitionedTable, source: str) -> set[Any]:
    if table.by_week:
        months = set()
        for (week,) in bind.execute(sa.text(f"SELECT DISTINCT week FROM {source}")):
            try:
                months.add(month_of_week(week))
            except ValueError:
                continue  # a malformed week stays in DEFAULT
        return months
    rows = bind.execute(
        sa.text(
            f"SELECT DISTINCT date_trunc('month', {table.key} AT TIME ZONE 'UTC') FROM {source}"
        )
    )
    return {moment.date() for (moment,) in rows if moment is not None}


def _partition(bind: sa.Connection) -> None:
    shapes = {table.name: _shape(bind, table.name) for table in PARTITIONED}
    _drop_foreign_keys_to_partitioned(shapes)
    ahead = set(months_from(datetime.now(UTC), MONTHS_AHEAD))
    for table in PARTITIONED:
        old = f"{table.name}_before_0006"
        _rebuild(table.name, f"PARTITION BY RANGE ({table.key})")
        for month in sorted(_data_months(bind, table, old) | ahead):
            create_month(bind, table, month)
        create_default(bind, table)
        op.execute(f"INSERT INTO {table.name} SELECT * FROM {old}")
        _move_sequence(bind, old, table.name)
        op.execute(f"DROP TABLE {old}")
        _constrain_partitioned(table, shapes[table.name])
    for table in PARTITIONED:
        for fk in shapes[table.name]["fks"]:
            if fk["referred_table"] in _partitioned_names():
                key = _key_of(fk["referred_table"])
                op.create_foreign_key(
                    fk["name"],
                    table.name,
                    fk["referred_table"],
                    [*fk["constrained_columns"], key],
                    [*fk["referred_columns"], key],
                )
    for parent, (companion, columns) in COMPANIONS.items():
        _create_companion(parent, companion, columns)


def _key_of(name: str) -> str:
    return next(table.key for table in PARTITIONED if table.name == name)


def _constrain_partitioned(table: PartitionedTable, shape: dict[str, Any]) -> None:
    pk = shape["pk"]["constrained_columns"]
    op.create_primary_key(shape["pk"]["name"], table.name, [*pk, table.key])
    for unique in shape["uniques"]:
        columns = unique["column_names"]
        if table.key in columns:
            op.create_unique_constraint(unique["name"], table.name, columns)
        elif table.name in COMPANIONS:
            continue  # the companion table holds it
        else:
            widened = [*columns, table.key]
            name = f"uq_{table.name}_{'_'.join(widened)}"
            assert WIDENED[name] == unique["name"], f"{name} is missing from WIDENED"
            op.create_unique_constraint(name, table.name, widened)
    for index in shape["indexes"]:
        op.create_index(index["name"], table.name, index["column_names"])
    for fk in shape["fks"]:
        if fk["referred_table"] not in _partitioned_names():
            op.create_foreign_key(
                fk["name"],
                table.name,
                fk["referred_table"],
                fk["constrained_columns"],
                fk["referred_columns"],
            )


def _create_companion(parent: str, companion: str, columns: tuple[str, ...]) -> None:
    """The plain table of `parent`'s unique keys, filled, and the triggers keeping it.

    The outbox's claim skips a row whose key is taken (every writer of the outbox meant
    `ON CONFLICT DO NOTHING`); the inbound claim raises a unique violation, on which the
    webhook answers a provider's retry with the stored reply, as before, unless the
    transaction set SKIP_TAKEN_KEYS (bulk stores that skip stored SIDs). A concurrent
    insert of the same key waits on the companion's index, as it waited on the plain
    table's.
    """
    first, *others = columns
    declared = ", ".join(
        f"{column} {COMPANION_TYPES[column]}{' NOT NULL' if column == first else ''}"
        for column in columns
    )
    uniques = "".join(
        f", CONSTRAINT uq_{companion}_{column} UNIQUE ({column})" for column in others
    )
    op.execute(
        f"CREATE TABLE {companion} ({declared}, "
        f"CONSTRAINT pk_{companion} PRIMARY KEY ({first}){uniques})"
    )
    listed = ", ".join(columns)
    op.execute(f"INSERT INTO {companion} ({listed}) SELECT {listed} FROM {parent}")
    new_values = ", ".join(f"NEW.{column}" for column in columns)
    skip = "true" if parent == "outbox" else f"current_setting('{SKIP_TAKEN_KEYS}', true) = 'on'"
    claim = (
        f"IF {skip} THEN INSERT INTO {companion} ({listed}) VALUES ({new_values}) "
        f"ON CONFLICT ({first}) DO NOTHING; IF NOT FOUND THEN RETURN NULL; END IF; "
        f"ELSE INSERT INTO {companion} ({listed}) VALUES ({new_values}); END IF;"
    )
    moving = f"IF current_setting('{MOVING_ROWS}', true) = 'on' THEN RETURN NEW; END IF;"
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
    assignments = ", ".join(f"{c} = NEW.{c}" for c in columns)
    op.execute(
        f"CREATE FUNCTION {companion}_claim() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {moving} {claim} RETURN NEW; END $$"
    )
    op.execute(
        f"CREATE FUNCTION {companion}_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF {changed} THEN UPDATE {companion} SET {assignments} "
        f"WHERE {first} = OLD.{first}; END IF; RETURN NEW; END $$"
    )
    op.execute(
        f"CREATE FUNCTION {companion}_release() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF current_setting('{MOVING_ROWS}', true) = 'on' THEN RETURN NULL; END IF; "
        f"DELETE FROM {companion} WHERE {first} = OLD.{first}; RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE FUNCTION {companion}_empty() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN DELETE FROM {companion}; RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {companion}_claim BEFORE INSERT ON {parent} "
        f"FOR EACH ROW EXECUTE FUNCTION {companion}_claim()"
    )
    op.execute(
        f"CREATE TRIGGER {companion}_change BEFORE UPDATE OF {listed} ON {parent} "
        f"FOR EACH ROW EXECUTE FUNCTION {companion}_change()"
    )
    op.execute(
        f"CREATE TRIGGER {companion}_release AFTER DELETE ON {parent} "
        f"FOR EACH ROW EXECUTE FUNCTION {companion}_release()"
    )
    op.execute(
        f"CREATE TRIGGER {companion}_empty AFTER TRUNCATE ON {parent} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {companion}_empty()"
    )


# --- PostgreSQL: back to plain tables ---


def _drop_companion(parent: str, companion: str) -> None:
    for suffix in ("claim", "change", "release", "empty"):
        op.execute(f"DROP TRIGGER IF EXISTS {companion}_{suffix} ON {parent}")
        op.execute(f"DROP FUNCTION IF EXISTS {companion}_{suffix}()")
    op.execute(f"DROP TABLE IF EXISTS {companion}")


def _unpartition(bind: sa.Connection) -> None:
    for parent, (companion, _columns) in COMPANIONS.items():
        _drop_companion(parent, companion)
    shapes = {table.name: _shape(bind, table.name) for table in PARTITIONED}
    _drop_foreign_keys_to_partitioned(shapes)
    for table in PARTITIONED:
        old = f"{table.name}_before_0006"
        _rebuild(table.name, "")
        op.execute(f"INSERT INTO {table.name} SELECT * FROM {old}")
        _move_sequence(bind, old, table.name)
        op.execute(f"DROP TABLE {old} CASCADE")
        _constrain_plain(table, shapes[table.name])
    for table in PARTITIONED:
        for fk in shapes[table.name]["fks"]:
            if fk["referred_table"] in _partitioned_names():
                key = _key_of(fk["referred_table"])
                op.create_foreign_key(
                    fk["name"],
                    table.name,
                    fk["referred_table"],
                    [c for c in fk["constrained_columns"] if c != key],
                    [c for c in fk["referred_columns"] if c != key],
                )


def _constrain_plain(table: PartitionedTable, shape: dict[str, Any]) -> None:
    pk = [c for c in shape["pk"]["constrained_columns"] if c != table.key]
    op.create_primary_key(shape["pk"]["name"], table.name, pk)
    for unique in shape["uniques"]:
        columns = unique["column_names"]
        if unique["name"] in WIDENED:
            op.create_unique_constraint(WIDENED[unique["name"]], table.name, columns[:-1])
        else:
            op.create_unique_constraint(unique["name"], table.name, columns)
    for name, columns in COMPANION_UNIQUES.get(table.name, ()):
        op.create_unique_constraint(name, table.name, columns)
    for index in shape["indexes"]:
        if index["name"].endswith("_unredacted"):
            continue
        op.create_index(index["name"], table.name, index["column_names"])
    for fk in shape["fks"]:
        if fk["referred_table"] not in _partitioned_names():
            op.create_foreign_key(
                fk["name"],
                table.name,
                fk["referred_table"],
                fk["constrained_columns"],
                fk["referred_columns"],
            )
