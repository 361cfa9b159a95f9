"""Weekly rollups on PostgreSQL: every level for one week, beside a bare GROUP BY floor.

    .venv/bin/python -m bench.rollups [--members 200000] [--url URL] [--repeat 3]
        [--followup-years 1] [--verbose] [--keep | --reuse DATABASE]

A scratch database (`huzhu_bench_rollups_<pid>`) is created, migrated and filled by
SQL (`INSERT ... SELECT generate_series`, not timed; 1,000,000 members in about 3
minutes): a county of MEMBERS members in grids of 20, 15 grids per doctor, 14
townships; a year (52 weeks) of weekly reports, a BP or glucose reading for each
member about every 4 weeks, member reports, attendance, urgent cases and four
follow-ups a member a year for `--followup-years` years (`FOLLOWUPS`; the rollup
and the floor read the last 12 months of them: a county's history grows every year,
its members do not). The
bulk tables' secondary indexes and UNIQUE constraints are dropped for the load
and rebuilt after it, and foreign-key triggers are skipped (the rows are
consistent by construction); a VACUUM (ANALYZE) then leaves the tables as
autovacuum keeps them in service (index-only scans need the visibility map).
`--verbose` times each load step. Then, for the last week:

- rollups: `compute_week` (one statement counting every grid's members, run in
  `grids.rollups.slices.SLICES` slices of patients at once above `SLICE_ABOVE`
  patient ids, each on a connection of its own while the session reads the urgent
  cases and grid places; then the sums up to doctors, townships, county), with the
  wall time of its slowest statements (the slices' times added up) and the CPU
  time of this process;
- floor: bare GROUP BYs over the same rows with the same week filters
  (memberships per grid, readings in the 52 weeks per member, member reports
  per member, weekly reports per grid, attendance, urgent cases), no joins;
- one subject of each level on its own (a grid, a doctor, a township, the
  county), as the API and the pages compute it.

Prints the scale, both times (best of REPEAT) and their ratio (target <= 20x).
The database is dropped afterwards, unless `--keep` (then `--reuse NAME` measures
it again without loading, and `bench.rollups_page --reuse NAME` loads the page).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from grids.followups.rules import year_window
from grids.rollups.indicators import GridPlace
from grids.rollups.period import WeekPeriod
from grids.rollups.places import grid_places
from grids.rollups.service import compute_week, subject_keys
from grids.storage import migrate
from grids.storage.database import Database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# One name per run, so two runs side by side do not drop each other's database.
DATABASE_NAME = f"huzhu_bench_rollups_{os.getpid()}"
TZ = ZoneInfo("Asia/Shanghai")
WEEK = "2026-W48"
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)

FILL = """
INSERT INTO facilities (id, code, name, level, parent_id, created_at, updated_at)
VALUES (1, 'C', '市人民医院', 'county_hospital', NULL, now(), now());
INSERT INTO facilities (id, code, name, level, parent_id, created_at, updated_at)
SELECT 1 + t, 'T' || t, '乡镇卫生院' || t, 'township_center', 1, now(), now()
FROM generate_series(1, 14) t;
INSERT INTO facilities (id, code, name, level, parent_id, created_at, updated_at)
SELECT 100 + c, 'V' || c, '村卫生室' || c, 'village_clinic', 2 + (c % 14), now(), now()
FROM generate_series(1, :clinics) c;
INSERT INTO doctors (id, code, name, phone, facility_id, language, status, created_at, updated_at)
SELECT d, 'D' || d, '医生' || d, '+86139' || lpad(d::text, 8, '0'), 100 + 1 + (d % :clinics),
       'zh_CN', 'active', now(), now()
FROM generate_series(1, :doctors) d;
INSERT INTO patients (id, code, name, phone, facility_id, primary_condition, conditions,
                      birth_year, sex, volunteer, status, language, created_at, updated_at)
SELECT p, 'P' || p, '患者' || p, '+86138' || lpad(p::text, 8, '0'), 100 + 1 + ((p / 20) % :clinics),
       CASE WHEN p % 4 = 0 THEN 'diabetes' ELSE 'hypertension' END,
       CASE WHEN p % 4 = 0 THEN '["diabetes"]'::json WHEN p % 9 = 0
            THEN '["hypertension", "diabetes"]'::json ELSE '["hypertension"]'::json END,
       1940 + p % 30, 'F', false,
       CASE WHEN p % 997 = 0 THEN 'deceased' ELSE 'active' END, 'zh_CN', now(), now()
FROM generate_series(1, :members) p;
UPDATE patients SET died_on = DATE '2026-06-01' + (id % 150) WHERE status = 'deceased';
INSERT INTO grids (id, code, facility_id, condition, doctor_id, coordinator_id, exchange_minutes,
                   version, created_at, updated_at)
SELECT g, 'G' || g, 100 + 1 + (g % :clinics), 'hypertension', 1 + (g - 1) / 15,
       (g - 1) * 20 + 1, 60, 1, now(), now()
FROM generate_series(1, :grids) g;
INSERT INTO memberships (grid_id, patient_id, seat, joined_at, left_at)
SELECT 1 + (p - 1) / 20, p, 1 + (p - 1) % 20,
       TIMESTAMPTZ '2025-01-01' + (p % 300) * INTERVAL '1 day', NULL
FROM generate_series(1, :members) p;
CREATE TEMP TABLE weeks AS
SELECT n, to_char(DATE '2026-11-23' - n * 7, 'IYYY-"W"IW') AS week,
       TIMESTAMPTZ '2026-11-23 02:00+00' - n * INTERVAL '7 days' AS at
FROM generate_series(0, 51) n;
INSERT INTO weekly_reports (grid_id, week, coordinator_id, all_stable, first_received_at,
                            last_received_at, revisions)
SELECT g, w.week, (g - 1) * 20 + 1, (g + n) % 3 <> 0, w.at, w.at, 1
FROM generate_series(1, :grids) g CROSS JOIN weeks w
WHERE (g * 7 + n) % 10 <> 0;
INSERT INTO readings (patient_id, grid_id, week, kind, systolic, diastolic, glucose_mmol,
                      reported_at)
SELECT p, 1 + (p - 1) / 20, w.week,
       CASE WHEN p % 4 = 0 THEN 'glucose' ELSE 'bp' END,
       CASE WHEN p % 4 = 0 THEN NULL ELSE 110 + (p * 7 + n) % 80 END,
       CASE WHEN p % 4 = 0 THEN NULL ELSE 65 + (p * 3 + n) % 50 END,
       CASE WHEN p % 4 = 0 THEN 5 + ((p + n) % 120) / 10.0 ELSE NULL END,
       w.at
FROM generate_series(1, :members) p CROSS JOIN weeks w
WHERE (p + n) % 4 = 0;
INSERT INTO member_reports (weekly_report_id, patient_id, week, seat, hospitalised, discharged,
                            missed_medication, died, updated_at)
SELECT r.id, (r.grid_id - 1) * 20 + 1 + (r.id % 20), r.week, 1 + (r.id % 20),
       r.id % 53 = 0, false, r.id % 7 = 0, false, r.first_received_at
FROM weekly_reports r WHERE NOT r.all_stable;
INSERT INTO exchange_attendance (grid_id, week, headcount, reported_at)
SELECT g, w.week, 10 + (g + n) % 10, w.at
FROM generate_series(1, :grids) g CROSS JOIN weeks w WHERE (g + n) % 5 <> 0;
INSERT INTO urgent_reports (code, grid_id, patient_id, seat, text, red_flag, received_at,
                            acknowledged_at, acknowledged_by_id)
SELECT 'U' || u, 1 + u % :grids, 1 + (u * 37) % :members, 1, '胸痛', false,
       TIMESTAMPTZ '2026-11-23 03:00+00' - (u % 364) * INTERVAL '1 day',
       TIMESTAMPTZ '2026-11-23 03:00+00' - (u % 364) * INTERVAL '1 day'
           + (60 + u % 1800) * INTERVAL '1 second',
       1 + (u % :grids) / 15
FROM generate_series(1, :urgent) u;
"""

FOLLOWUPS = """
INSERT INTO followups (patient_id, doctor_id, grid_id, visit_date, method, symptoms, systolic,
                       diastolic, glucose_mmol, adverse_reaction, classification, medicines,
                       next_due, next_due_reason, recorded_by, recorded_at)
SELECT p, 1 + ((p - 1) / 20) / 15, 1 + (p - 1) / 20, v.day,
       (ARRAY['clinic', 'exchange', 'home', 'phone'])[1 + (p + k) % 4], '[]'::json,
       CASE WHEN p % 4 = 0 THEN NULL ELSE 115 + (p * 5 + k) % 45 END,
       CASE WHEN p % 4 = 0 THEN NULL ELSE 70 + (p * 3 + k) % 30 END,
       CASE WHEN p % 4 = 0 THEN 5 + ((p + k) % 60) / 10.0 ELSE NULL END,
       false, CASE WHEN (p + k) % 5 = 0 THEN 'uncontrolled' ELSE 'controlled' END, '[]'::json,
       v.day + CASE WHEN (p + k) % 5 = 0 THEN 14 ELSE 91 END, 'routine', 'bench',
       v.day::timestamp AT TIME ZONE 'Asia/Shanghai' + INTERVAL '10 hours'
FROM generate_series(:followup_visits - 1, 0, -1) k
CROSS JOIN LATERAL generate_series(90, 0, -1) d
CROSS JOIN LATERAL generate_series(CASE WHEN d = 0 THEN 91 ELSE d END, :members, 91) p
CROSS JOIN LATERAL (SELECT DATE ':followups_until' - d - k * 91 AS day) v;
"""
"""Follow-ups every 91 days, `followup_visits` a member (four: a year, the national
standard), the latest within the last 13 weeks before `followups_until`; a fifth of
them uncontrolled, due in two weeks. Member p is seen on the days `p % 91` (= d)
before each 91-day turn; the rows are written oldest day first, as a county records
them, so a year's follow-ups lie together in the table as they do in service."""

FLOOR = [
    "SELECT grid_id, count(*) FROM memberships WHERE joined_at < :end "
    "AND (left_at IS NULL OR left_at >= :end) GROUP BY grid_id",
    "SELECT patient_id, max(week) FROM readings WHERE week >= :lost_from AND week <= :week "
    "GROUP BY patient_id",
    "SELECT patient_id, max(week) FROM member_reports WHERE week <= :week GROUP BY patient_id",
    "SELECT grid_id, max(week) FROM weekly_reports WHERE week >= :lost_from AND week <= :week "
    "GROUP BY grid_id",
    "SELECT grid_id, sum(headcount) FROM exchange_attendance WHERE week = :week GROUP BY grid_id",
    "SELECT patient_id, max(received_at) FROM urgent_reports WHERE received_at < :end "
    "GROUP BY patient_id",
    "SELECT patient_id, max(visit_date) FROM followups WHERE visit_date >= :year_from "
    "AND visit_date <= :last_day GROUP BY patient_id",
]


def floor_params_of(period: WeekPeriod) -> dict[str, object]:
    """The bounds of FLOOR's statements for the week of `period`."""
    return {
        "end": period.end,
        "week": period.week,
        "lost_from": period.lost_from,
        "last_day": period.last_day,
        "year_from": year_window(period.last_day)[0],
    }


BULK_TABLES = (
    "patients",
    "memberships",
    "weekly_reports",
    "member_reports",
    "readings",
    "exchange_attendance",
    "urgent_reports",
    "followups",
)

# Secondary indexes and UNIQUE constraints of the bulk tables (primary keys stay):
# dropped before the load and rebuilt after it, which is several times faster than
# maintaining them row by row.
SECONDARY = """
SELECT c.conname, t.relname, pg_get_constraintdef(c.oid)
FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
WHERE c.contype = 'u' AND t.relname = ANY(%(tables)s)
"""
PLAIN_INDEXES = """
SELECT i.relname, pg_get_indexdef(i.oid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
WHERE t.relname = ANY(%(tables)s) AND NOT x.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
"""


def _admin(url: str, statement: str) -> None:
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


@dataclass(frozen=True)
class Scale:
    members: int
    grids: int
    doctors: int
    clinics: int
    urgent: int

    @classmethod
    def of(cls, members: int) -> Scale:
        members -= members % 300
        grids = members // 20
        doctors = -(-grids // 15)
        return cls(members, grids, doctors, max(1, doctors), max(10, members // 500))


def fill(url: str, scale: Scale, *, followup_years: int = 1, verbose: bool = False) -> float:
    """Migrate the empty database at `url` and fill it set-based; returns seconds taken."""
    params: dict[str, int | str] = {
        "members": scale.members,
        "grids": scale.grids,
        "doctors": scale.doctors,
        "clinics": scale.clinics,
        "urgent": scale.urgent,
        "followups_until": "2026-11-29",
        "followup_visits": 4 * followup_years,
    }
    return load_sql(url, FILL + FOLLOWUPS, params, verbose=verbose)


def load_sql(
    url: str, sql: str, params: Mapping[str, int | str], *, verbose: bool = False
) -> float:
    """Migrate the empty database at `url` and run the statements of `sql` (`:name` replaced
    by `params`) with the bulk tables' secondary indexes dropped; returns seconds taken."""
    migrate.upgrade(url)
    started = time.perf_counter()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("SET synchronous_commit = off")
        raw.execute("SET maintenance_work_mem = '512MB'")
        raw.execute("SET max_parallel_maintenance_workers = 2")
        try:
            # Skips the foreign-key triggers (the generated rows are consistent).
            raw.execute("SET session_replication_role = replica")
        except Exception:  # not a superuser: keep the checks, load slower
            raw.rollback()
        tables = {"tables": list(BULK_TABLES)}
        constraints = raw.execute(SECONDARY, tables).fetchall()
        indexes = raw.execute(PLAIN_INDEXES, tables).fetchall()
        for name, table, _ in constraints:
            raw.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            raw.execute(f'DROP INDEX "{name}"')
        steps = [step for step in sql.split(";\n") if step.strip()]
        # An index of a partitioned table reads "ON ONLY table": recreated without ONLY, so
        # each partition gets its index too.
        steps += [
            f"CREATE {definition.split('CREATE ', 1)[1]}".replace(" ON ONLY ", " ON ")
            for _, definition in indexes
        ]
        steps += [
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            for name, table, definition in constraints
        ]
        # As autovacuum leaves a table in service: statistics, and a visibility map that
        # lets index-only scans skip the heap.
        steps.append("VACUUM (ANALYZE)")
        for statement in steps:
            # Longest names first, so ":members" is not read as ":member" + "s".
            for key in sorted(params, key=len, reverse=True):
                statement = statement.replace(f":{key}", str(params[key]))
            at = time.perf_counter()
            raw.execute(statement)
            if verbose:
                first = " ".join(statement.split())[:70]
                print(f"  {time.perf_counter() - at:6.1f} s  {first}", flush=True)
    engine.dispose()
    return time.perf_counter() - started


class StatementClock:
    """Wall time of each SQL statement run through an engine, by its first words."""

    def __init__(self, engine: Engine) -> None:
        self.times: dict[str, float] = {}
        self._started: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_: object) -> None:
        self._started.append(time.perf_counter())

    def _after(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        took = time.perf_counter() - self._started.pop()
        name = " ".join(statement.split())[:60]
        self.times[name] = self.times.get(name, 0.0) + took

    def reset(self) -> None:
        self.times.clear()


def level_subjects(places: list[GridPlace]) -> dict[str, tuple[str, list[GridPlace]]]:
    """One subject per level (the first doctor's grid, doctor and township; the county)."""
    first = next(place for place in places if place.doctor_code and place.township_code)
    chosen = {
        "grid": ("grid", first.grid_code),
        "doctor": ("doctor", first.doctor_code or ""),
        "township": ("township", first.township_code or ""),
        "county": ("county", first.county_code),
    }
    return {
        level: (code, [place for place in places if (kind, code) in subject_keys(place)])
        for level, (kind, code) in chosen.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--followup-years",
        type=int,
        default=1,
        help="years of follow-ups to load, four a member a year",
    )
    parser.add_argument("--verbose", action="store_true", help="time each load step")
    parser.add_argument("--keep", action="store_true", help="keep the database; print its URL")
    parser.add_argument(
        "--reuse", metavar="DATABASE", help="measure a database kept by --keep (no load)"
    )
    args = parser.parse_args()
    scale = Scale.of(args.members)
    name = args.reuse or DATABASE_NAME
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    if not args.reuse:
        _admin(args.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(args.url, f'CREATE DATABASE "{name}"')
    try:
        load = (
            0.0
            if args.reuse
            else fill(url, scale, followup_years=args.followup_years, verbose=args.verbose)
        )
        measure(url, load, args.repeat)
        if args.keep or args.reuse:
            print(f"kept: {url}")
    finally:
        if not (args.keep or args.reuse):
            _admin(args.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(url: str, load: float, repeat: int) -> None:
    database = Database(url)
    clock = StatementClock(database.engine)
    with database.engine.connect() as connection:
        rows = {
            table: connection.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("patients", *BULK_TABLES[1:])
        }
    period = WeekPeriod(WEEK, TZ)
    floor_params = floor_params_of(period)
    rollup_times, rollup_cpu, floor_times = [], [], []
    subjects = 0
    statements: dict[str, float] = {}
    for _ in range(repeat):
        clock.reset()
        with database.unit_of_work() as session:
            started, cpu = time.perf_counter(), time.process_time()
            rollup = compute_week(session, period, NOW)
            rollup_times.append(time.perf_counter() - started)
            rollup_cpu.append(time.process_time() - cpu)
            subjects = len(rollup.values)
        if rollup_times[-1] == min(rollup_times):
            statements = dict(clock.times)
        with database.engine.connect() as connection:
            started = time.perf_counter()
            for statement in FLOOR:
                connection.execute(text(statement), floor_params).all()
            floor_times.append(time.perf_counter() - started)
    levels: dict[str, tuple[str, float]] = {}
    with database.unit_of_work() as session:
        for level, (code, places) in level_subjects(grid_places(session)).items():
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                compute_week(session, period, NOW, places=places).document(level, code)
                best = min(best, time.perf_counter() - started)
            levels[level] = (f"{code} ({len(places):,} grids)", best)
    database.dispose()
    best_rollup, best_floor = min(rollup_times), min(floor_times)
    members = rows["patients"] or 0
    print(f"scale: {members:,} members, {subjects:,} subjects (grids, doctors, townships, county)")
    print("rows: " + ", ".join(f"{table} {count:,}" for table, count in rows.items()))
    if load:
        print(f"load (not timed in the figures): {load:.1f} s")
    print(
        f"all rollups for {WEEK}, every level at once: {best_rollup:.2f} s wall, "
        f"{min(rollup_cpu):.2f} s CPU in this process (best of {repeat})"
    )
    for statement, took in sorted(statements.items(), key=lambda item: -item[1])[:6]:
        print(f"  {took:6.2f} s  {statement}")
    print(f"floor, bare GROUP BYs over the same rows: {best_floor:.2f} s")
    print(f"ratio: {best_rollup / best_floor:.1f}x (target <= 20x; all levels target < 10 s)")
    for level, (subject, took) in levels.items():
        print(f"one {level}'s rollup, {subject}: {took:.2f} s")


if __name__ == "__main__":
    main()
