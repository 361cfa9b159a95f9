"""The scheduler at province scale on PostgreSQL: the weekly exchange fan-out and the plan.

    .venv/bin/python -m bench.scheduler [--members 1000000] [--url URL]

Creates (and afterwards drops) the database `huzhu_bench_scheduler_<pid>`, migrates it,
and fills it with one county of `--members` members in grids of 20 (50,000 grids
for a million), 20 grids per village clinic, each meeting on a weekday at 19:00.

1. The whole week's reminders: `exchange-reminders` run at 18:00 on each of the
   seven days (every member but the coordinator the day before, each coordinator
   two hours before; a quarter of the coordinators' reminders name the members due
   a follow-up at the doctor's rota visit), timed end to end: reading the grids and
   members, rendering each text once per exchange and language, copying the rows
   into the outbox.
2. The same rows copied again into an emptied outbox by the same method (`COPY`,
   rows already built): the floor. Target: the fan-out at least 70% of that
   rate; the week under 60 s.
   Each is reported as wall time, this process's CPU time and the CPU time of
   the PostgreSQL backend serving it (read from /proc: the server runs here).
3. The exchange plan for `--plan-grids` grids (50,000) without slots, pure
   planner, 20 grids per venue and doctor: under 30 s.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session

from config.settings import Settings, parse_quiet_hours
from grids.exchanges.planner import GridToPlace, QuietWindow, plan
from grids.storage import migrate
from grids.storage.database import Database
from notifications.outbox import BROADCAST_COLUMNS
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
    # The doctor's rota: a quarter of the exchanges each week have a visit, and their
    # coordinators' reminders name the members due a follow-up.
    """INSERT INTO doctor_visits (grid_id, doctor_id, rota_week)
       SELECT g, ((g - 1) / :grids_per_clinic) + 1, 1 + g % 4
       FROM generate_series(1, :grids) AS g""",
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


@dataclass
class Timing:
    wall: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = None


def backend_cpu(session: Session) -> float | None:
    """CPU seconds used so far by the PostgreSQL backend serving `session` (None when
    the server is not on this machine)."""
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Timer:
    """Wall, client CPU and server CPU of what runs inside `with`, on one connection."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.timing = Timing()

    def __enter__(self) -> Timing:
        with self.database.unit_of_work() as session:
            self._server = backend_cpu(session)
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self.timing

    def __exit__(self, *_: object) -> None:
        self.timing.wall = time.perf_counter() - self._wall
        self.timing.client_cpu = time.process_time() - self._cpu
        with self.database.unit_of_work() as session:
            server = backend_cpu(session)
        if server is not None and self._server is not None:
            self.timing.server_cpu = server - self._server


def week_of_reminders(database: Database) -> tuple[Timing, int]:
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
    queued = 0
    with Timer(database) as timing:
        for day in range(7):
            # Sunday 18:00 before the week (for Monday) to Saturday 18:00 (for Sunday).
            outcome = run_job(
                database, SETTINGS, spec, exchange_reminders, first + timedelta(days=day), "bench"
            )
            assert outcome.result is not None, outcome.error
            queued += outcome.result.queued
    return timing, queued


def plain_copy(database: Database) -> tuple[Timing, int]:
    """The week's rows, read back and copied into the emptied outbox as they are."""
    columns = ", ".join(BROADCAST_COLUMNS)
    # As the fan-out hands them to COPY: JSON and timestamps as text.
    as_text = {"params", "next_attempt_at", "created_at", "updated_at"}
    selected = ", ".join(f"{c}::text" if c in as_text else c for c in BROADCAST_COLUMNS)
    with database.unit_of_work() as session:
        rows = session.execute(
            text(f"SELECT {selected} FROM outbox ORDER BY id"),
            execution_options={"yield_per": 50_000},
        ).all()
        session.execute(text("TRUNCATE outbox"))
        session.commit()
    with Timer(database) as timing, database.unit_of_work() as session:
        driver = session.connection().connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        with driver.cursor() as cursor, cursor.copy(f"COPY outbox ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        session.commit()
    return timing, len(rows)


def plan_all(grids: int) -> tuple[float, int, int]:
    places = [
        GridToPlace(f"G{g}", f"V{(g - 1) // GRIDS_PER_CLINIC}", f"D{(g - 1) // GRIDS_PER_CLINIC}")
        for g in range(1, grids + 1)
    ]
    started = time.perf_counter()
    result = plan(places, QuietWindow.of(SETTINGS.quiet_hours.start, SETTINGS.quiet_hours.end))
    return time.perf_counter() - started, len(result.slots), len(result.unplaced)


def describe(timing: Timing, rows: int) -> str:
    server = "" if timing.server_cpu is None else f", server CPU {timing.server_cpu:6.1f} s"
    return (
        f"{timing.wall:7.1f} s wall {rows / timing.wall:10,.0f} rows/s"
        f" (client CPU {timing.client_cpu:6.1f} s{server})"
    )


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
        floor, inserted = plain_copy(database)
        ratio = (queued / ours.wall) / (inserted / floor.wall)
        print(f"week of reminders (7 runs of exchange-reminders): {queued:,} rows")
        print(f"  fan-out  {describe(ours, queued)}   (target: week < 60 s)")
        print(f"  plain    {describe(floor, inserted)}   (same rows, same COPY)")
        print(f"  fan-out / plain: {ratio:.0%}   (target: >= 70%)")
        scale = 1_000_000 / (grids * GRID_SIZE)
        if scale > 1.01:
            print(
                f"  at 1,000,000 members (x{scale:.1f}, linear): wall {ours.wall * scale:.1f} s,"
                f" client CPU {ours.client_cpu * scale:.1f} s"
                + (
                    f", server CPU {ours.server_cpu * scale:.1f} s"
                    if ours.server_cpu is not None
                    else ""
                )
            )

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
