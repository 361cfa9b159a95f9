"""History partitioned by month on PostgreSQL (docs/partitions.md).

Which tables are partitioned and on what, the partitions' names and bounds, and
creating the months ahead. SQLite keeps plain tables: every function that touches
the database does nothing there.

A month of a timestamp table holds the rows whose time falls in that UTC month. A
month of a week table (`week` is an ISO week string, `2026-W48`) holds the weeks
whose Thursday falls in it, so every ISO week belongs to exactly one month and
`(grid_id, week)` keys stay unique inside one partition.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, text

MONTHS_AHEAD = 3
"""Months after the current one whose partitions exist in advance (`partitions-ahead`)."""

MOVING_ROWS = "huzhu.moving_rows"
"""A transaction-local setting under which the key triggers let rows move between
partitions without claiming or releasing their unique keys."""

SKIP_TAKEN_KEYS = "huzhu.skip_taken_keys"
"""A transaction-local setting under which inserting a row whose companion key is
taken skips the row (as `ON CONFLICT DO NOTHING`) instead of raising a unique violation."""

LOCK_TIMEOUT = "5s"
"""How long creating a partition waits for its parent's lock; the job tries again next run."""


@dataclass(frozen=True)
class PartitionedTable:
    name: str
    key: str
    """The partition key column."""
    by_week: bool
    """The key is an ISO week string; otherwise a UTC timestamp."""


PARTITIONED: tuple[PartitionedTable, ...] = (
    PartitionedTable("readings", "week", by_week=True),
    PartitionedTable("weekly_reports", "week", by_week=True),
    PartitionedTable("member_reports", "week", by_week=True),
    PartitionedTable("exchange_attendance", "week", by_week=True),
    PartitionedTable("inbound_messages", "received_at", by_week=False),
    PartitionedTable("outbox", "created_at", by_week=False),
    PartitionedTable("escalation_events", "at", by_week=False),
    PartitionedTable("audit_log", "at", by_week=False),
)

COMPANIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "outbox": ("outbox_keys", ("idempotency_key", "provider_sid")),
    "inbound_messages": ("inbound_message_sids", ("message_sid",)),
}
"""Partitioned table → the plain table holding its globally unique keys (a unique
index on a partitioned table must include the partition key, so these live apart)."""

PG_LAYOUT_DIFFERENCES = frozenset(
    {
        # Held by the companion tables on PostgreSQL.
        "uq_outbox_idempotency_key",
        "uq_outbox_provider_sid",
        "uq_inbound_messages_message_sid",
        # Their lookups on the partitioned tables (migration 0008).
        "ix_outbox_idempotency_key",
        "ix_outbox_provider_sid",
        "ix_inbound_messages_message_sid",
        # Widened by `week` on PostgreSQL; exact all the same, since the composite
        # foreign key ties a member report's week to its weekly report's week.
        "uq_member_reports_weekly_report_id_patient_id",
        "uq_member_reports_weekly_report_id_patient_id_week",
        "fk_member_reports_weekly_report_id_weekly_reports",
    }
)
"""Constraints the models declare (for SQLite) that PostgreSQL holds another way;
`db check` leaves them out of its comparison on PostgreSQL."""


def table_named(name: str) -> PartitionedTable:
    for table in PARTITIONED:
        if table.name == name:
            return table
    raise KeyError(name)


_CHILD = re.compile(
    r"^(?P<parent>{})_(y\d{{4}}m\d{{2}}|default)$".format("|".join(t.name for t in PARTITIONED))
)


def is_partition_name(name: str) -> bool:
    """True for a partition of one of our partitioned tables (`outbox_y2027m01`,
    `outbox_default`)."""
    return _CHILD.match(name) is not None


# --- months ---


def month_of(moment: date) -> date:
    return date(moment.year, moment.month, 1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def first_week(month: date) -> str:
    """The first ISO week whose Thursday falls in `month`."""
    thursday = month + timedelta(days=(3 - month.weekday()) % 7)
    year, week, _ = thursday.isocalendar()
    return f"{year}-W{week:02d}"


def month_of_week(week: str) -> date:
    """The month holding ISO week `week` (the month of its Thursday)."""
    year, number = week.split("-W")
    return month_of(date.fromisocalendar(int(year), int(number), 4))


def bounds(table: PartitionedTable, month: date) -> tuple[str, str]:
    """The partition's range as SQL literals' contents: FROM (lower) TO (upper)."""
    following = add_months(month, 1)
    if table.by_week:
        return first_week(month), first_week(following)
    return f"{month.isoformat()} 00:00:00+00", f"{following.isoformat()} 00:00:00+00"


def partition_name(table: PartitionedTable, month: date) -> str:
    return f"{table.name}_y{month.year}m{month.month:02d}"


def default_name(table: PartitionedTable) -> str:
    return f"{table.name}_default"


def months_from(now: datetime, ahead: int) -> list[date]:
    """The month of `now` (UTC) and the `ahead` months after it."""
    start = month_of(now.astimezone(UTC).date())
    return [add_months(start, offset) for offset in range(ahead + 1)]


# --- the database ---


@dataclass(frozen=True)
class Partition:
    table: str
    name: str
    bound: str
    """`FOR VALUES FROM (...) TO (...)` or `DEFAULT`, as PostgreSQL writes it."""
    rows: int
    """PostgreSQL's estimate (`reltuples`; -1 before the first ANALYZE)."""

    def as_dict(self) -> dict[str, object]:
        return {"table": self.table, "name": self.name, "bound": self.bound, "rows": self.rows}


def is_partitioned(connection: Connection, table: str) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    found = connection.scalar(
        text(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace"
        ),
        {"name": table},
    )
    return found is not None


def partitions(connection: Connection) -> list[Partition]:
    """Every partition of every partitioned table, in table then bound order."""
    if connection.dialect.name != "postgresql":
        return []
    rows = connection.execute(
        text(
            "SELECT parent.relname, child.relname, pg_get_expr(child.relpartbound, child.oid), "
            "child.reltuples::bigint FROM pg_inherits i "
            "JOIN pg_class parent ON parent.oid = i.inhparent "
            "JOIN pg_class child ON child.oid = i.inhrelid "
            "JOIN pg_partitioned_table p ON p.partrelid = parent.oid "
            "WHERE parent.relnamespace = current_schema()::regnamespace "
            "ORDER BY parent.relname, child.relname"
        )
    )
    return [Partition(table, name, bound, int(count)) for table, name, bound, count in rows]


def create_default(connection: Connection, table: PartitionedTable) -> None:
    connection.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {default_name(table)} PARTITION OF {table.name} DEFAULT"
    )


def create_month(connection: Connection, table: PartitionedTable, month: date) -> bool:
    """Create `table`'s partition of `month` unless it exists; returns whether it was
    created. Rows of that month already in the DEFAULT partition move into it."""
    name = partition_name(table, month)
    exists = connection.scalar(text("SELECT to_regclass(:name)"), {"name": name})
    if exists is not None:
        return False
    lower, upper = bounds(table, month)
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    values = {"lower": lower, "upper": upper}
    default = default_name(table)
    has_default = connection.scalar(text("SELECT to_regclass(:name)"), {"name": default})
    kind = "varchar" if table.by_week else "timestamptz"
    in_range = f"{table.key} >= CAST(:lower AS {kind}) AND {table.key} < CAST(:upper AS {kind})"
    stray = has_default is not None and connection.scalar(
        text(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {in_range})"), values
    )
    if stray:
        # The new partition may not be created while DEFAULT holds rows of its range:
        # they are set aside, the partition is created, and they go back through the
        # parent. Their unique keys stay claimed meanwhile (MOVING_ROWS).
        connection.exec_driver_sql(f"SET LOCAL {MOVING_ROWS} = 'on'")
        connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE moving_rows (LIKE {table.name}) ON COMMIT DROP"
        )
        connection.execute(
            text(
                f"WITH moved AS (DELETE FROM {default} WHERE {in_range} RETURNING *) "
                "INSERT INTO moving_rows SELECT * FROM moved"
            ),
            values,
        )
    connection.exec_driver_sql(
        f"CREATE TABLE {name} PARTITION OF {table.name} FOR VALUES FROM ('{lower}') TO ('{upper}')"
    )
    if stray:
        connection.exec_driver_sql(f"INSERT INTO {table.name} SELECT * FROM moving_rows")
        connection.exec_driver_sql("DROP TABLE moving_rows")
        connection.exec_driver_sql(f"SET LOCAL {MOVING_ROWS} = 'off'")
    return True


def ensure_months(
    connection: Connection, months: Iterable[date], tables: Iterable[PartitionedTable] = PARTITIONED
) -> list[str]:
    """Create the missing partitions of `months` for every partitioned table; returns the
    names created (none on SQLite, none when all exist)."""
    if connection.dialect.name != "postgresql":
        return []
    created: list[str] = []
    wanted = sorted(set(months))
    for table in tables:
        if not is_partitioned(connection, table.name):
            continue
        for month in wanted:
            if create_month(connection, table, month):
                created.append(partition_name(table, month))
    return created
