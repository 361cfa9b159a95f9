"""Township and county pages read stored rollups: the current week's provisional snapshot,
refreshed by `rollups-refresh`, and a closed week's snapshot; each says 数据截至 HH:MM."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.models import UrgentReport
from grids.rollups.models import RollupRefresh, RollupSnapshot
from grids.storage.database import Database
from grids.storage.session import dispose_all
from tests.support import rollup_fixture as fx
from tests.support.accounts import log_in, make_user
from tests.support.app import make_app
from tests.support.replica import drop_copy, frozen_copy

SUNDAY = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)  # 10:00 in the county, W48 still open
LATER = datetime(2026, 11, 29, 2, 40, tzinfo=UTC)  # 10:40
REFRESH_AT = "2026-11-29T10:45:00+08:00"
AFTER = datetime(2026, 11, 29, 2, 50, tzinfo=UTC)  # 10:50
MONDAY = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 09:00, W48 closed


@pytest.fixture
def county(session):
    built = fx.build(session)
    make_user(session, "yian", "township", facility_code=built.codes["township"])
    make_user(session, "bureau", "admin")
    session.commit()
    return built


def urgent_card(html: str) -> int:
    """The figure on the page's urgent card (急报)."""
    match = re.search(r"急报[^<]*<b>(\d+)</b>", html)
    assert match, "no urgent card on the page"
    return int(match.group(1))


def add_urgent(session, county, code: str, received: datetime) -> None:
    session.add(
        UrgentReport(
            code=code,
            grid_id=county.grids["C"].id,
            patient_id=county.patients["c2"].id,
            text="胸痛",
            received_at=received,
            acknowledged_at=received.replace(minute=received.minute + 5),
            acknowledged_by_id=county.grids["C"].doctor_id,
        )
    )
    session.commit()


def test_township_page_shows_the_stored_figures_until_the_refresh_runs(
    client, session, runner, county
) -> None:
    township = f"/areas/township/{county.codes['township']}?week={fx.WEEK}"
    with time_machine.travel(SUNDAY, tick=False):
        log_in(client, "yian")
        first = client.get(township).get_data(as_text=True)
    # No provisional snapshot yet: the page computed and stored one, and says when.
    assert "数据截至 10:00" in first and "数据为临时" in first
    assert "每15分钟更新" in first
    assert urgent_card(first) == 2
    assert session.scalar(select(RollupRefresh.week)) == fx.WEEK

    add_urgent(session, county, "K09", datetime(2026, 11, 29, 2, 10, tzinfo=UTC))
    with time_machine.travel(LATER, tick=False):
        stale = client.get(township).get_data(as_text=True)
    assert urgent_card(stale) == 2 and "数据截至 10:00" in stale

    ran = runner.invoke(args=["scheduler", "run-once", "rollups-refresh", "--at", REFRESH_AT])
    assert ran.exit_code == 0, ran.output
    assert "incremental" in ran.output
    with time_machine.travel(AFTER, tick=False):
        fresh = client.get(township).get_data(as_text=True)
        english = client.get(township + "&lang=en").get_data(as_text=True)
    assert urgent_card(fresh) == 3 and "数据截至 10:45" in fresh
    assert "data as of 10:45" in english and "refreshed every 15 min" in english

    # The county page and its export read the same stored rows.
    admin = client.application.test_client()
    with time_machine.travel(AFTER, tick=False):
        log_in(admin, "bureau")
        county_page = admin.get(f"/areas/county/{county.codes['county']}?week={fx.WEEK}")
        export = admin.get(f"/exports/county/{county.codes['county']}.csv?week={fx.WEEK}")
    assert "数据截至 10:45" in county_page.get_data(as_text=True)
    table = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
    urgent = table[0].index("急报")
    assert table[1][1] == county.codes["county"] and table[1][urgent] == "3"


def test_closed_week_page_reads_its_snapshot(client, session, runner, county) -> None:
    township = f"/areas/township/{county.codes['township']}?week={fx.WEEK}"
    with time_machine.travel(MONDAY, tick=False):
        log_in(client, "yian")
        first = client.get(township).get_data(as_text=True)
    assert "已结周" in first and "数据截至 09:00" in first
    assert urgent_card(first) == 2
    stored = session.scalar(
        select(func.count())
        .select_from(RollupSnapshot)
        .where(RollupSnapshot.week == fx.WEEK, RollupSnapshot.provisional.is_(False))
    )
    assert stored  # computed once, stored as the week's snapshot

    # Late data changes nothing on the page until the snapshot run revises the week.
    add_urgent(session, county, "K10", datetime(2026, 11, 28, 2, 0, tzinfo=UTC))
    with time_machine.travel(MONDAY.replace(hour=2), tick=False):
        again = client.get(township).get_data(as_text=True)
    assert urgent_card(again) == 2 and "数据截至 09:00" in again
    revised = runner.invoke(args=["rollups", "snapshot", "--at", "2026-11-30T11:00:00+08:00"])
    assert revised.exit_code == 0, revised.output
    with time_machine.travel(MONDAY.replace(hour=4), tick=False):
        later = client.get(township).get_data(as_text=True)
    assert urgent_card(later) == 3 and "数据截至 11:00" in later


def test_closing_the_week_turns_the_provisional_rows_into_its_snapshot(
    client, session, runner, county
) -> None:
    with time_machine.travel(SUNDAY, tick=False):
        log_in(client, "yian")
        client.get(f"/areas/township/{county.codes['township']}?week={fx.WEEK}")
    assert session.scalar(select(func.count()).select_from(RollupRefresh)) == 1
    provisional = session.scalar(
        select(func.count()).select_from(RollupSnapshot).where(RollupSnapshot.week == fx.WEEK)
    )
    # The first refresh after midnight closes W48 and starts W49's provisional rows.
    ran = runner.invoke(
        args=["scheduler", "run-once", "rollups-refresh", "--at", "2026-11-30T00:15:00+08:00"]
    )
    assert ran.exit_code == 0, ran.output
    rows = session.execute(
        select(RollupSnapshot.week, RollupSnapshot.provisional, func.count())
        .where(RollupSnapshot.week.in_([fx.WEEK, "2026-W49"]))
        .group_by(RollupSnapshot.week, RollupSnapshot.provisional)
        .order_by(RollupSnapshot.week)
    ).all()
    assert [(week, provisional) for week, provisional, _ in rows] == [
        (fx.WEEK, False),
        ("2026-W49", True),
    ]
    assert rows[0][2] == provisional  # the same subjects, now final
    assert session.scalars(select(RollupRefresh.week)).all() == ["2026-W49"]
    parts = session.scalars(
        select(RollupSnapshot.parts).where(RollupSnapshot.week == fx.WEEK)
    ).all()
    assert parts == [None] * provisional


def stored_rows(database: Database) -> tuple[int, int]:
    """(snapshot rows, refresh states) in a database."""
    with database.unit_of_work() as session:
        return (
            session.scalar(select(func.count()).select_from(RollupSnapshot)) or 0,
            session.scalar(select(func.count()).select_from(RollupRefresh)) or 0,
        )


def test_with_a_read_only_replica_the_missing_snapshot_is_stored_on_the_primary(
    database_url: str, db: Database, session: Session, county
) -> None:
    """Pages read a replica that has no snapshot yet (a copy frozen before any page was
    seen, whose sessions refuse to write): the figures are computed, stored on the
    primary, and shown; the next load finds them there instead of counting again."""
    replica_url = frozen_copy(db)
    app = make_app(database_url, database_read_url=replica_url)
    replica = Database(replica_url)
    try:
        client = app.test_client()
        township = f"/areas/township/{county.codes['township']}?week={fx.WEEK}"
        with time_machine.travel(SUNDAY, tick=False):
            log_in(client, "yian")
            open_week = client.get(township)
        assert open_week.status_code == 200
        page = open_week.get_data(as_text=True)
        assert urgent_card(page) == 2 and "数据截至 10:00" in page
        provisional, refreshes = stored_rows(db)
        assert provisional and refreshes == 1
        assert stored_rows(replica) == (0, 0)

        admin = client.application.test_client()
        with time_machine.travel(MONDAY, tick=False):
            log_in(client, "yian")
            closed = client.get(township).get_data(as_text=True)
            log_in(admin, "bureau")
            county_page = admin.get(f"/areas/county/{county.codes['county']}?week={fx.WEEK}")
            export = admin.get(f"/exports/county/{county.codes['county']}.csv?week={fx.WEEK}")
        assert urgent_card(closed) == 2 and "已结周" in closed and "数据截至 09:00" in closed
        assert county_page.status_code == 200
        assert "数据截至 09:00" in county_page.get_data(as_text=True)
        table = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
        assert table[1][table[0].index("急报")] == "2"
        final = session.scalar(
            select(func.count())
            .select_from(RollupSnapshot)
            .where(RollupSnapshot.week == fx.WEEK, RollupSnapshot.provisional.is_(False))
        )
        assert final
        assert stored_rows(replica) == (0, 0)

        # Later loads read the rows on the primary (the replica lags): nothing counted
        # or stored again, the same time shown.
        before = stored_rows(db)
        with time_machine.travel(MONDAY.replace(hour=3), tick=False):
            again = client.get(township).get_data(as_text=True)
        assert urgent_card(again) == 2 and "数据截至 09:00" in again
        assert stored_rows(db) == before
    finally:
        dispose_all(app)
        replica.dispose()
        drop_copy(replica_url)
