"""What one inbound SMS costs the database: a regression guard for the webhook's
throughput (bench/webhook.py measures the throughput itself), the month of partitions it
reads however many months are kept, and the connection that is not pinged before each
message yet survives a restarted server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from config.runtime import settings_of
from grids.storage import database as storage
from grids.storage import partitions
from grids.storage.database import Database
from grids.storage.session import database_of
from notifications import inbound
from notifications.inbound import IncomingSms
from notifications.models import InboundMessage
from tests.support.app import make_app
from tests.support.county import County, build_county
from tests.support.proxy import SwitchableProxy
from tests.support.queries import rows
from tests.support.webhooks import send

# Statements for a coordinator's plain weekly report: store the message and find the
# sender with its roster (one statement on PostgreSQL, two on SQLite), write the report,
# record the outcome. An amendment also reads who was named earlier that week.
PLAIN_REPORT_STATEMENTS = {"postgresql": 3, "sqlite": 4}


@contextmanager
def statements(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """Each statement sent to the database meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)


@contextmanager
def months_kept(db: Database, count: int) -> Iterator[None]:
    """`count` more months of partitions in every partitioned table, as a county that
    has kept its history for years has; dropped afterwards."""
    months = [partitions.add_months(date(2020, 1, 1), k) for k in range(count)]
    with db.engine.begin() as connection:
        created = partitions.ensure_months(connection, months)
    try:
        yield
    finally:
        with db.engine.begin() as connection:
            for name in created:
                parent = next(t.name for t in partitions.PARTITIONED if name.startswith(t.name))
                # Detached first: a month of a table that others refer to cannot be dropped
                # while it is attached.
                connection.exec_driver_sql(f"ALTER TABLE {parent} DETACH PARTITION {name}")
                connection.exec_driver_sql(f"DROP TABLE {name}")


def plan_of(db: Database, statement: str, parameters: Any) -> str:
    with db.engine.connect() as connection:
        cursor = connection.connection.cursor()
        cursor.execute(f"EXPLAIN {statement}", parameters)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        connection.rollback()
    return plan


@pytest.fixture
def county(db: Database) -> County:
    return build_county(db)


def test_a_plain_weekly_report_costs_a_few_statements(client, db, county) -> None:
    base = PLAIN_REPORT_STATEMENTS[db.engine.dialect.name]
    coordinator = county.zh.coordinator.phone
    with statements(db) as first:
        assert "已收到" in send(client, coordinator, "好")
    with statements(db) as amended:
        assert "已更新" in send(client, coordinator, "好")
    with statements(db) as reading:
        send(client, county.en.coordinator.phone, "OK 5 BP150/95")

    assert len(first) <= base, first
    assert len(amended) <= base + 1, amended
    # The member's flags and the reading: one statement each.
    assert len(reading) <= base + 2, reading
    assert [row.outcome for row in rows(db, InboundMessage)] == ["applied", "amended", "applied"]


@pytest.mark.postgres
def test_a_report_reads_the_month_of_the_message_however_many_months_are_kept(
    client, db, county
) -> None:
    """PostgreSQL keeps a partition a month: what the webhook looks up or updates is in
    the month of the message, so a message costs the same in the county's third year as
    in its first (each month more would be one more place to look, for every message)."""
    coordinator = county.zh.coordinator.phone
    with months_kept(db, 24):
        send(client, coordinator, "好")
        with statements(db) as seen:
            # An amendment: the outcome is recorded, and who was named earlier is read.
            send(client, coordinator, "好 5 血压150/95")
        lookups = [
            (statement, parameters)
            for statement, parameters in seen
            if statement.lstrip().upper().startswith(("SELECT", "UPDATE"))
        ]
        assert {statement.split()[0].upper() for statement, _ in lookups} == {"SELECT", "UPDATE"}
        for statement, parameters in lookups:
            months = months_of_each_table(db, statement, parameters)
            assert all(len(found) <= 1 for found in months.values()), (statement, months)
    assert [row.outcome for row in rows(db, InboundMessage)] == ["applied", "amended"]


def months_of_each_table(db: Database, statement: str, parameters: Any) -> dict[str, set[str]]:
    """The partitions of each partitioned table the plan of `statement` reads."""
    plan = plan_of(db, statement, parameters)
    return {
        table.name: set(re.findall(rf"\b{table.name}_(?:y\d{{4}}m\d{{2}}|default)\b", plan))
        for table in partitions.PARTITIONED
    }


@pytest.mark.postgres
def test_a_pushed_reply_applied_after_storing_updates_only_its_month(app, db, county) -> None:
    """A mainland push stores its batch first and applies each message after: the claim
    and the outcome find the row in its month, wherever it was stored from."""
    now = datetime.now(UTC)
    settings = settings_of(app)
    pushed = [
        IncomingSms.from_form(
            {"MessageSid": f"push-{n}", "From": county.zh.coordinator.phone, "Body": body}
        )
        for n, body in enumerate(["好", "好 5 血压150/95"])
    ]
    with months_kept(db, 24):
        inbound.store_received(db, pushed, now, chunk=10)
        with statements(db) as seen:
            first = inbound.apply_stored(db, settings, pushed[0], now, received_at=now)
        # Told a wrong time (another push stored it): found by MessageSid all the same.
        second = inbound.apply_stored(
            db, settings, pushed[1], now, received_at=now - timedelta(days=40)
        )
        again = inbound.apply_stored(db, settings, pushed[0], now, received_at=now)
        updates = [
            (sql, params) for sql, params in seen if sql.lstrip().upper().startswith("UPDATE")
        ]
        assert len(updates) == 2, updates  # the claim and the outcome
        for statement, parameters in updates:
            months = months_of_each_table(db, statement, parameters)
            assert all(len(found) <= 1 for found in months.values()), (statement, months)
    assert first is not None and first.reply and "已收到" in first.reply
    assert second is not None and second.reply and "已更新" in second.reply
    assert again is None  # applied once only
    assert [row.outcome for row in rows(db, InboundMessage)] == ["applied", "amended"]


def test_a_connection_in_steady_use_is_not_pinged(client, db, county, monkeypatch) -> None:
    pings: list[object] = []
    ping = db.engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(db.engine.dialect, "do_ping", counted)
    for _ in range(3):
        send(client, county.zh.coordinator.phone, "好")
    assert pings == []


@pytest.mark.postgres
def test_a_message_after_the_server_dropped_its_connections_is_applied(
    database_url: str, db: Database, county: County
) -> None:
    """PostgreSQL restarted between two messages: the second is applied as usual (the
    dead pooled connection is replaced and the message tried once more), not stored
    with outcome `error` or spooled."""
    url = make_url(database_url)
    coordinator = county.zh.coordinator.phone
    assert coordinator is not None
    proxy = SwitchableProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.up()
    app = make_app(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
    try:
        client = app.test_client()
        send(client, coordinator, "好")
        proxy.down()  # every open connection is cut, as a restarted server does
        proxy.up()
        assert "已更新" in send(client, coordinator, "好 5 血压150/95")
    finally:
        database_of(app).dispose()
        proxy.down()
    assert [row.outcome for row in rows(db, InboundMessage)] == ["applied", "amended"]


def test_a_connection_idle_for_a_while_is_pinged_and_replaced_when_dead(
    db: Database, monkeypatch
) -> None:
    if not db.is_postgresql:
        pytest.skip("the pool of SQLite connections is not pinged")
    monkeypatch.setattr(storage, "IDLE_PING_SECONDS", 0.0)
    with db.engine.connect() as connection:
        first = connection.connection.dbapi_connection
    assert first is not None
    first.close()  # gone while idle in the pool
    assert db.is_reachable()


@pytest.mark.postgres
def test_the_database_is_reachable_right_after_the_server_dropped_its_connections(
    database_url: str,
) -> None:
    """`/healthz` and the spool's replay ask this: a restarted server is back at once,
    not after one failed answer per pooled connection."""
    url = make_url(database_url)
    proxy = SwitchableProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.up()
    through = Database(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
    try:
        assert through.is_reachable()
        proxy.down()  # every open connection is cut, as a restarted server does
        proxy.up()
        assert through.is_reachable()
        proxy.down()
        assert not through.is_reachable()
    finally:
        through.dispose()
        proxy.down()
