"""The scheduler at province scale on PostgreSQL: the weekly exchange fan-out and the plan.

    .venv/bin/python -m bench.scheduler [--members 1000000] [--url URL]

Creates (and afterwards drops) the database `huzhu_bench_scheduler_<pid>`, migrates it,
and fills it with one county of `--members` members in grids of 20 (50,000 grids
for a million), 20 grids per village clinic, each meeting on a weekday at 19:00.

1. The whole week's member reminders: `exchange-reminders` run at 18:00 on each
   of the seven days (every member but the coordinator, once), timed end to end:
   reading the grids and members, rendering each text, inserting into the outbox.
2. The same rows inserted again into an emptied outbox by the same statement
   (`INSERT ... ON CONFLICT DO NOTHING RETURNING id`, batches of 1,000): the floor.
   Target: the fan-out at least 70% of that rate; the week under 60 s.
3. The exchange plan for `--plan-grids` grids (50,000) without slots, pure
   planner, 20 grids per venue and doctor: under 30 s.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from config.settings import Settings, parse_quiet_hours
from grids.exchanges.planner import GridToPlace, QuietWindow, plan
from grids.storage import migrate
from grids.storage.database import Database
from notifications.models import OutboxMessage
from notifications.outbox import _insert_ignoring_duplicates
from scheduling.jobs.exchanges import exchange_reminders
from scheduling.models import SchedulerRun
from scheduling.registry import spec_of
from scheduling.runner import run_job
from tests.support.postgres import create_postgres_database, drop_postgres_database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# One name per run, so two runs side by side do not drop each other's database.
DATABASE_NAME = f"huzhu_bench_scheduler_{os.getpid()}"
GRID_SIZE = 20
GRIDS_PER_CLINIC = 20
MONDAY = datetime(2027, 3, 1, tzinfo=UTC)  # 2027-W09
SETTINGS = Settings(quiet_hours=parse_quiet_hours("21:00-08:00"))

FILL = [
    """INSERT INTO facilities (id, code, name, level, parent_id, created_at, updated_at)
       VALUES (1, 'C', '市人民医院', 'county_hospital', NULL, now(), now()),
              (2, 'T', '镇卫生院', 'township_center', 1, now(), now())""",
    """INSERT INTO facilities (id, code, name, level, parent_id, created_at, updated_at)
       SELECT 2 + n, 'V' || n, n || '村卫生室', 'village_clinic', 2, now(), now()
       FROM generate_series(1, :clinics) AS n""",
    """INSERT INTO doctors (id, code, name, phone, facility_id, language, status,
                            created_at, updated_at)
       SELECT n, 'D' || n, '医生' || n, '+86138' || lpad(n::text, 8, '0'), 2 + n, 'zh_CN',
              'active', now(), now()
       FROM generate_series(1, :clinics) AS n""",
    """INSERT INTO patients (id, code, name, phone, facility_id, primary_condition, conditions,
                             birth_year, volunteer, status, language, created_at, updated_at)
       SELECT n, 'P' || n, '患者' || n, '+86139' || lpad(n::text, 8, '0'),
              2 + ((n - 1) / :per_clinic) + 1, 'hypertension', '["hypertension"]', 1955,
              (n - 1) % :size = 0, 'active', 'zh_CN', now(), now()
       FROM generate_series(1, :members) AS n""",
    """INSERT INTO grids (id, code, facility_id, condition, doctor_id, coordinator_id,
                          exchange_weekday, exchange_time, exchange_minutes, version,
                          created_at, updated_at)
       SELECT g, 'G' || g, 2 + ((g - 1) / :grids_per_clinic) + 1, 'hypertension',
              ((g - 1) / :grids_per_clinic) + 1, (g - 1) * :size + 1,
              (g - 1) % 7, '19:00', 60, 1, now(), now()
       FROM generate_series(1, :grids) AS g""",
    """INSERT INTO memberships (grid_id, patient_id, seat, joined_at)
       SELECT ((n - 1) / :size) + 1, n, ((n - 1) % :size) + 1, now()
       FROM generate_series(1, :members) AS n""",
    "ANALYZE",
]


def fill(database: Database, members: int) -> int:
    grids = members // GRID_SIZE
    clinics = -(-grids // GRIDS_PER_CLINIC)
    params = {
        "members": grids * GRID_SIZE,
        "grids": grids,
        "clinics": clinics,
        "size": GRID_SIZE,
        "grids_per_clinic": GRIDS_PER_CLINIC,
        "per_clinic": GRID_SIZE * GRIDS_PER_CLINIC,
    }
    with database.engine.begin() as connection:
        for statement in FILL:
            connection.execute(text(statement), params if ":" in statement else {})
    return grids


def week_of_reminders(database: Database) -> tuple[float, int]:
    """Seven runs as the scheduler makes them, each window opening at the run before."""
    first = MONDAY + timedelta(days=-1, hours=10)  # Sunday 18:00 in Asia/Shanghai
    with database.unit_of_work() as session:
        session.add(
            SchedulerRun(
                job_id="exchange-reminders",
                slot="before",
                at=first - timedelta(minutes=15),
                status="ok",
                instance="bench",
            )
        )
        session.commit()
    spec = spec_of("exchange-reminders")
    started = time.perf_counter()
    queued = 0
    for day in range(7):
        # Sunday 18:00 before the week (for Monday) to Saturday 18:00 (for Sunday).
        outcome = run_job(
            database, SETTINGS, spec, exchange_reminders, first + timedelta(days=day), "bench"
        )
        assert outcome.result is not None, outcome.error
        queued += outcome.result.queued
    return time.perf_counter() - started, queued


def plain_insert(database: Database) -> tuple[float, int]:
    outbox = OutboxMessage.__table__
    columns = [c for c in outbox.c if c.name != "id"]
    with database.unit_of_work() as session:
        rows = [dict(row._mapping) for row in session.execute(select(*columns))]
        session.execute(text("TRUNCATE outbox"))
        session.commit()
    started = time.perf_counter()
    with database.unit_of_work() as session:
        statement = _insert_ignoring_duplicates(session).returning(outbox.c.id)
        connection = session.connection()
        inserted = 0
        for start in range(0, len(rows), 1000):
            inserted += len(connection.execute(statement, rows[start : start + 1000]).all())
        session.commit()
    return time.perf_counter() - started, inserted


def plan_all(grids: int) -> tuple[float, int, int]:
    places = [
        GridToPlace(f"G{g}", f"V{(g - 1) // GRIDS_PER_CLINIC}", f"D{(g - 1) // GRIDS_PER_CLINIC}")
        for g in range(1, grids + 1)
    ]
    started = time.perf_counter()
    result = plan(places, QuietWindow.of(SETTINGS.quiet_hours.start, SETTINGS.quiet_hours.end))
    return time.perf_counter() - started, len(result.slots), len(result.unplaced)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--plan-grids", type=int, default=50_000)
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    url = create_postgres_database(args.url, DATABASE_NAME)
    try:
        migrate.upgrade(url)
        database = Database(url)
        started = time.perf_counter()
        grids = fill(database, args.members)
        print(f"scale: {grids * GRID_SIZE:,} members in {grids:,} grids of {GRID_SIZE}")
        print(f"county filled in {time.perf_counter() - started:.1f} s")

        ours, queued = week_of_reminders(database)
        floor, inserted = plain_insert(database)
        ratio = (queued / ours) / (inserted / floor)
        print(f"week of member reminders (7 runs of exchange-reminders): {queued:,} rows")
        print(f"  fan-out    {ours:7.1f} s  {queued / ours:10,.0f} rows/s   (target: week < 60 s)")
        print(
            f"  plain      {floor:7.1f} s  {inserted / floor:10,.0f} rows/s"
            "   (same rows, same insert)"
        )
        print(f"  fan-out / plain: {ratio:.0%}   (target: >= 70%)")

        planned, slots, unplaced = plan_all(args.plan_grids)
        print(
            f"plan for {args.plan_grids:,} grids: {planned:.1f} s, {slots:,} slots, "
            f"{unplaced:,} unplaced   (target: < 30 s)"
        )
        database.dispose()
    finally:
        drop_postgres_database(args.url, DATABASE_NAME)


if __name__ == "__main__":
    main()
