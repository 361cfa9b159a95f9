"""What one inbound SMS costs the database: a regression guard for the webhook's
throughput (bench/webhook.py measures the throughput itself), and the connection
that is not pinged before each message yet survives a restarted server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from grids.storage import database as storage
from grids.storage.database import Database
from grids.storage.session import database_of
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
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


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
