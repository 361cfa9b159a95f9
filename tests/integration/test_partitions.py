"""History partitioned by month on PostgreSQL (docs/partitions.md): rows land in their
month, the job creates the months ahead, nothing is ever refused for want of a
partition, and the unique keys hold across partitions as they did in one table."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, select, text

from config.runtime import settings_of
from grids.core.notices import Notice
from grids.models import AuditEntry, UrgentReport
from grids.storage import migrate
from grids.storage.database import Database
from grids.storage.partitions import PARTITIONED, partitions
from notifications.inbound import IncomingSms, receive
from notifications.inbound.pending import store_received
from notifications.models import InboundMessage, OutboxMessage
from notifications.outbox import enqueue
from scheduling.jobs.housekeeping import partitions_ahead
from tests.support.county import build_county
from tests.support.postgres import create_postgres_database, drop_postgres_database
from tests.support.webhooks import new_sid, twilio_form

pytestmark = pytest.mark.postgres

FEBRUARY = datetime(2031, 2, 10, 2, 0, tzinfo=UTC)
JANUARY = datetime(2031, 1, 20, 2, 0, tzinfo=UTC)


def _partition_of(db: Database, table: str, row_id: int) -> str:
    with db.engine.connect() as connection:
        return str(
            connection.scalar(
                text(f"SELECT tableoid::regclass::text FROM {table} WHERE id = :id"), {"id": row_id}
            )
        )


def _names(db: Database) -> list[str]:
    with db.engine.connect() as connection:
        return [partition.name for partition in partitions(connection)]


def _notice(key: str = "reminder:grid-1:2031-W06:member-1") -> Notice:
    return Notice(
        key=key,
        phone="+8613900000001",
        language="zh_CN",
        template="sms.test",
        recipient_type="patient",
        recipient_id=1,
    )


def test_every_history_table_is_partitioned_by_range_with_a_default(db: Database) -> None:
    with db.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.relname, p.partstrat FROM pg_partitioned_table p "
                "JOIN pg_class c ON c.oid = p.partrelid"
            )
        )
        partitioned: dict[str, str] = {name: strategy for name, strategy in rows}
        defaults = set(
            connection.scalars(
                text(
                    "SELECT parent.relname FROM pg_inherits i "
                    "JOIN pg_class parent ON parent.oid = i.inhparent "
                    "JOIN pg_class child ON child.oid = i.inhrelid "
                    "WHERE pg_get_expr(child.relpartbound, child.oid) = 'DEFAULT'"
                )
            )
        )
    names = {table.name for table in PARTITIONED}
    assert names == {
        "readings",
        "weekly_reports",
        "member_reports",
        "exchange_attendance",
        "inbound_messages",
        "outbox",
        "escalation_events",
        "audit_log",
    }
    assert {name: partitioned.get(name) for name in names} == dict.fromkeys(names, "r")
    assert defaults == names


def test_the_job_creates_the_months_ahead_once(app, db: Database) -> None:
    settings = settings_of(app)
    first = partitions_ahead(db, settings, JANUARY)
    names = _names(db)
    for month in ("y2031m01", "y2031m02", "y2031m03", "y2031m04"):
        assert f"outbox_{month}" in names and f"readings_{month}" in names
    assert "outbox_y2031m05" not in names
    assert first.note == f"{4 * len(PARTITIONED)} partitions created"

    again = partitions_ahead(db, settings, JANUARY)
    assert again.note == "0 partitions created"
    assert _names(db) == names


def test_a_row_lands_in_its_months_partition(app, db: Database) -> None:
    partitions_ahead(db, settings_of(app), JANUARY)
    with db.unit_of_work() as session:
        row = enqueue(session, _notice(), now=FEBRUARY)
        entry = AuditEntry(at=FEBRUARY, actor="admin", action="test", entity_type="grid")
        session.add(entry)
        session.commit()
        assert row is not None
        outbox_id, audit_id = row.id, entry.id
    assert _partition_of(db, "outbox", outbox_id) == "outbox_y2031m02"
    assert _partition_of(db, "audit_log", audit_id) == "audit_log_y2031m02"


def test_a_row_far_ahead_goes_to_default_then_moves_into_its_month(app, db: Database) -> None:
    far = datetime(2090, 3, 5, tzinfo=UTC)
    with db.unit_of_work() as session:
        row = enqueue(session, _notice("far:1"), now=far)
        session.commit()
        assert row is not None
        row_id = row.id
    assert _partition_of(db, "outbox", row_id) == "outbox_default"

    partitions_ahead(db, settings_of(app), far)

    assert _partition_of(db, "outbox", row_id) == "outbox_y2090m03"
    with db.unit_of_work() as session:
        # Moved, its key is still taken: the same message is not queued twice.
        assert enqueue(session, _notice("far:1"), now=far) is None
        session.commit()
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_the_same_outbox_key_in_two_months_is_queued_once(app, db: Database) -> None:
    partitions_ahead(db, settings_of(app), JANUARY)
    with db.unit_of_work() as session:
        assert enqueue(session, _notice(), now=JANUARY) is not None
        session.commit()
    with db.unit_of_work() as session:
        assert enqueue(session, _notice(), now=FEBRUARY) is None
        session.commit()
        created = session.scalars(select(OutboxMessage.created_at)).all()
    assert created == [JANUARY]


def test_a_message_sid_delivered_in_two_months_is_applied_once(app, db: Database) -> None:
    partitions_ahead(db, settings_of(app), JANUARY)
    county = build_county(db)
    assert county.zh.coordinator.phone is not None
    sid = new_sid()
    sms = IncomingSms.from_form(twilio_form(county.zh.coordinator.phone, "急 5 胸痛", sid))

    first = receive(db, settings_of(app), sms, JANUARY)
    second = receive(db, settings_of(app), sms, FEBRUARY)

    assert second == first
    with db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
        assert session.scalar(select(func.count()).select_from(UrgentReport)) == 1
    # A batch of pushed messages skips the stored SID rather than failing.
    store_received(db, [sms], FEBRUARY, chunk=10)
    with db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_db_partitions_lists_and_creates(runner) -> None:
    result = runner.invoke(args=["db", "partitions", "--months-ahead", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    tables = {item["table"] for item in document["items"]}
    assert tables == {table.name for table in PARTITIONED}
    assert {"table", "name", "bound", "rows"} <= set(document["items"][0])


def test_rows_survive_upgrade_and_downgrade(database_url: str) -> None:
    name = f"huzhu_partition_rows_{os.getpid()}"
    url = create_postgres_database(database_url, name)
    engine = create_engine(url)
    try:
        migrate.upgrade(url, "0005")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO outbox (idempotency_key, to_phone, template, params, language, "
                    "body, urgent, channel, status, attempts, next_attempt_at, created_at, "
                    "updated_at) VALUES ('k:1', '+8613900000001', 't', '{}', 'zh_CN', 'hi', "
                    "false, 'sms', 'sent', 1, :at, :at, :at)"
                ),
                {"at": datetime(2025, 6, 3, tzinfo=UTC)},
            )
        migrate.upgrade(url)
        with engine.begin() as connection:
            where = connection.scalar(text("SELECT tableoid::regclass::text FROM outbox"))
            assert where == "outbox_y2025m06"
            key = connection.scalar(text("SELECT idempotency_key FROM outbox_keys"))
            assert key == "k:1"
        migrate.downgrade(url, "0005")
        with engine.begin() as connection:
            assert connection.scalar(text("SELECT body FROM outbox")) == "hi"
            unique = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_constraint WHERE conname = 'uq_outbox_idempotency_key'"
                )
            )
            assert unique == 1
        migrate.upgrade(url)
        migrate.check(url)
    finally:
        engine.dispose()
        drop_postgres_database(database_url, name)


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("outbox", "idempotency_key"),  # the escalation tick's delivery facts
        ("outbox", "provider_sid"),  # a delivery-status callback
        ("inbound_messages", "message_sid"),  # a provider's retry
    ],
)
def test_lookups_by_a_key_held_in_a_companion_use_an_index(
    db: Database, table: str, column: str
) -> None:
    """Without one, each lookup reads every month of the table: at 10 million members
    the escalation tick took 26 s against 10 million outbox rows."""
    with db.engine.begin() as connection:
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            connection.scalars(text(f"EXPLAIN SELECT id FROM {table} WHERE {column} = 'SMx'"))
        )
    assert "Index" in plan and "Seq Scan" not in plan, plan
